#include "net/websocket/frame_codec.h"

#include <cstring>

namespace ferry::net::websocket {

namespace {
constexpr std::size_t kMaxControlPayload = 125;

bool is_control(std::uint8_t op) { return (op & 0x8) != 0; }
bool known(std::uint8_t op) { return op <= 0x2 || (op >= 0x8 && op <= 0xA); }

// Header length once its first two bytes are known: 2 + extended length + mask.
std::size_t header_size(const unsigned char* h) {
  std::size_t n = 2;
  const unsigned len7 = h[1] & 0x7F;
  if (len7 == 126) n += 2;
  else if (len7 == 127) n += 8;
  if (h[1] & 0x80) n += 4;
  return n;
}
}  // namespace

bool FrameDecoder::header_complete() const { return header_len_ >= 2 && header_len_ == header_size(header_); }

FrameDecoder::Result FrameDecoder::fail(Result r, CloseCode code, std::string_view text) {
  failed_ = true;
  error_code_ = code;
  error_text_ = std::string(text);
  r.status = Status::kError;
  return r;
}

FrameDecoder::Result FrameDecoder::decode(std::span<char> data) {
  Result r;
  if (failed_) return fail(r, error_code_, error_text_);
  std::size_t pos = 0;
  while (pos < data.size()) {
    if (closed_) {  // nothing after a close frame counts
      pos = data.size();
      break;
    }
    if (!in_payload_) {
      // Gather the header (it may arrive byte by byte).
      const std::size_t want = header_len_ < 2 ? 2 : header_size(header_);
      const std::size_t take = std::min(want - header_len_, data.size() - pos);
      std::memcpy(header_ + header_len_, data.data() + pos, take);
      header_len_ += take;
      pos += take;
      if (header_len_ < 2) break;
      if (header_len_ == 2 && header_size(header_) > 2) continue;  // extended length / mask next
      if (!header_complete()) break;
      // RFC 6455 5.2 / 5.5: validate.
      const std::uint8_t b0 = header_[0], b1 = header_[1];
      const bool fin = (b0 & 0x80) != 0;
      const std::uint8_t op = b0 & 0x0F;
      if (b0 & 0x70) return fail(r, CloseCode::kProtocolError, "reserved bits set (no extension was agreed)");
      if (!known(op)) return fail(r, CloseCode::kProtocolError, "unknown opcode");
      if (!(b1 & 0x80)) return fail(r, CloseCode::kProtocolError, "unmasked frame from a client");
      std::uint64_t len = b1 & 0x7F;
      std::size_t at = 2;
      if (len == 126) {
        len = (std::uint64_t{header_[2]} << 8) | header_[3];
        at = 4;
      } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | header_[2 + i];
        at = 10;
        if (len >> 63) return fail(r, CloseCode::kProtocolError, "payload length with the top bit set");
      }
      std::memcpy(mask_, header_ + at, 4);
      mask_pos_ = 0;
      header_len_ = 0;
      if (is_control(op)) {
        if (!fin) return fail(r, CloseCode::kProtocolError, "fragmented control frame");
        if (len > kMaxControlPayload) return fail(r, CloseCode::kProtocolError, "control frame over 125 bytes");
        control_.clear();
      } else {
        if (op == 0x0 && !in_message_) return fail(r, CloseCode::kProtocolError, "continuation without a message");
        if (op != 0x0 && in_message_) return fail(r, CloseCode::kProtocolError, "new message inside a fragmented one");
        if (op != 0x0) message_size_ = 0;
        if (len > max_message_size_ - message_size_)
          return fail(r, CloseCode::kTooBig, "message larger than max-frame-size");
        message_size_ += len;
        in_message_ = !fin;
      }
      fin_ = fin;
      opcode_ = static_cast<Opcode>(op);
      remaining_ = len;
      in_payload_ = true;
    }
    // Payload bytes (possibly none).
    const std::size_t take =
        static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size() - pos));
    char* src = data.data() + pos;
    if (is_control(static_cast<std::uint8_t>(opcode_))) {
      for (std::size_t i = 0; i < take; ++i)
        control_.push_back(static_cast<char>(src[i] ^ mask_[(mask_pos_ + i) & 3]));
    } else {
      char* dst = data.data() + r.payload;
      for (std::size_t i = 0; i < take; ++i) dst[i] = static_cast<char>(src[i] ^ mask_[(mask_pos_ + i) & 3]);
      r.payload += take;
    }
    mask_pos_ = (mask_pos_ + take) & 3;
    remaining_ -= take;
    pos += take;
    if (remaining_ > 0) break;  // needs more input
    in_payload_ = false;
    if (opcode_ == Opcode::kPing) {
      ping_pending_ = true;
      ping_.swap(control_);
    } else if (opcode_ == Opcode::kClose) {
      if (control_.size() == 1) return fail(r, CloseCode::kProtocolError, "close frame with a 1-byte payload");
      closed_ = true;
      if (control_.size() >= 2)
        close_code_ = static_cast<std::uint16_t>((static_cast<unsigned char>(control_[0]) << 8) |
                                                 static_cast<unsigned char>(control_[1]));
    }
  }
  r.status = Status::kOk;
  return r;
}

bool FrameDecoder::take_ping(std::string& payload) {
  if (!ping_pending_) return false;
  ping_pending_ = false;
  payload = ping_;
  return true;
}

void append_frame_header(std::string& out, Opcode opcode, bool fin, std::uint64_t size) {
  out.push_back(static_cast<char>((fin ? 0x80 : 0x00) | static_cast<std::uint8_t>(opcode)));
  if (size < 126) {
    out.push_back(static_cast<char>(size));
  } else if (size <= 0xFFFF) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>(size >> 8));
    out.push_back(static_cast<char>(size & 0xFF));
  } else {
    out.push_back(static_cast<char>(127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((size >> (8 * i)) & 0xFF));
  }
}

std::string control_frame(Opcode opcode, std::string_view payload) {
  if (payload.size() > kMaxControlPayload) payload = payload.substr(0, kMaxControlPayload);
  std::string out;
  append_frame_header(out, opcode, true, payload.size());
  out.append(payload);
  return out;
}

std::string close_frame(CloseCode code, std::string_view reason) {
  std::string payload;
  const auto c = static_cast<std::uint16_t>(code);
  payload.push_back(static_cast<char>(c >> 8));
  payload.push_back(static_cast<char>(c & 0xFF));
  // Keep the reason valid UTF-8 when cut: ours are ASCII.
  payload.append(reason.substr(0, kMaxControlPayload - 2));
  return control_frame(Opcode::kClose, payload);
}

}  // namespace ferry::net::websocket
