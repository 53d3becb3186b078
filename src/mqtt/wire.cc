#include "mqtt/wire.h"

#include "common/assert.h"
#include "mqtt/utf8.h"

namespace ferry::mqtt {

bool Reader::fail(ReasonCode code, const char* rule) {
  if (error_ == ReasonCode::kSuccess) {
    error_ = code;
    rule_ = rule;
  }
  return false;
}

bool Reader::u8(std::uint8_t& out) {
  if (failed() || remaining() < 1) return fail(ReasonCode::kMalformedPacket, "packet ends inside a field");
  out = static_cast<std::uint8_t>(bytes_[pos_++]);
  return true;
}

bool Reader::u16(std::uint16_t& out) {
  if (failed() || remaining() < 2) return fail(ReasonCode::kMalformedPacket, "packet ends inside a field");
  const auto* p = reinterpret_cast<const unsigned char*>(bytes_.data() + pos_);
  out = static_cast<std::uint16_t>((p[0] << 8) | p[1]);
  pos_ += 2;
  return true;
}

bool Reader::u32(std::uint32_t& out) {
  if (failed() || remaining() < 4) return fail(ReasonCode::kMalformedPacket, "packet ends inside a field");
  const auto* p = reinterpret_cast<const unsigned char*>(bytes_.data() + pos_);
  out = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
  pos_ += 4;
  return true;
}

bool Reader::variable_int(std::uint32_t& out) {
  if (failed()) return false;
  const int n = decode_variable_int(bytes_.substr(pos_), out);
  if (n <= 0) return fail(ReasonCode::kMalformedPacket, "bad variable byte integer");
  pos_ += static_cast<std::size_t>(n);
  return true;
}

bool Reader::bytes(std::size_t n, std::string_view& out) {
  if (failed() || remaining() < n) return fail(ReasonCode::kMalformedPacket, "packet ends inside a field");
  out = bytes_.substr(pos_, n);
  pos_ += n;
  return true;
}

bool Reader::binary(std::string_view& out) {
  std::uint16_t n = 0;
  return u16(n) && bytes(n, out);
}

bool Reader::utf8(std::string_view& out) {
  if (!binary(out)) return false;
  if (!valid_mqtt_utf8(out)) return fail(ReasonCode::kMalformedPacket, "string is not valid UTF-8 (or holds U+0000)");
  return true;
}

void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }

void put_u16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xFF));
}

void put_u32(std::string& out, std::uint32_t v) {
  put_u16(out, static_cast<std::uint16_t>(v >> 16));
  put_u16(out, static_cast<std::uint16_t>(v & 0xFFFF));
}

void put_variable_int(std::string& out, std::uint32_t v) {
  FERRY_ASSERT(v <= kMaxVariableByteInteger);
  do {
    std::uint8_t b = v & 0x7F;
    v >>= 7;
    if (v != 0) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (v != 0);
}

std::size_t variable_int_size(std::uint32_t v) {
  if (v < 128) return 1;
  if (v < 16'384) return 2;
  if (v < 2'097'152) return 3;
  return 4;
}

void put_string(std::string& out, std::string_view s) {
  FERRY_ASSERT(s.size() <= 0xFFFF);
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  out.append(s);
}

int decode_variable_int(std::string_view bytes, std::uint32_t& out) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    if (static_cast<std::size_t>(i) >= bytes.size()) return 0;
    const auto b = static_cast<std::uint8_t>(bytes[static_cast<std::size_t>(i)]);
    value |= std::uint32_t{b & 0x7Fu} << (7 * i);
    if ((b & 0x80) == 0) {
      out = value;
      return i + 1;
    }
  }
  return -1;
}

}  // namespace ferry::mqtt
