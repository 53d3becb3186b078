#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mqtt/reason_code.h"

namespace ferry::mqtt {

// MQTT's data representations (spec 1.5): big-endian integers, the Variable
// Byte Integer, length-prefixed UTF-8 strings and binary data.

// The largest Variable Byte Integer (4 bytes, 7 bits each).
inline constexpr std::uint32_t kMaxVariableByteInteger = 268'435'455;

// Reads primitives from a packet's bytes. The first failure sticks: every
// later read fails, and error() names why (kMalformedPacket for running off
// the end, a bad Variable Byte Integer or bad UTF-8). Views point into the
// bytes given to the constructor.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  bool u8(std::uint8_t& out);
  bool u16(std::uint16_t& out);
  bool u32(std::uint32_t& out);
  bool variable_int(std::uint32_t& out);
  bool binary(std::string_view& out);  // 2-byte length + bytes
  bool utf8(std::string_view& out);    // binary + valid_mqtt_utf8
  // The next n bytes as one view (a property block, the payload).
  bool bytes(std::size_t n, std::string_view& out);

  std::size_t remaining() const { return bytes_.size() - pos_; }
  bool at_end() const { return pos_ == bytes_.size(); }
  bool failed() const { return error_ != ReasonCode::kSuccess; }
  ReasonCode error() const { return error_; }
  const char* rule() const { return rule_; }
  // Records a failure found by the caller (the first one wins).
  bool fail(ReasonCode code, const char* rule);

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
  ReasonCode error_ = ReasonCode::kSuccess;
  const char* rule_ = "";
};

// Writes primitives (appends to a std::string).
void put_u8(std::string& out, std::uint8_t v);
void put_u16(std::string& out, std::uint16_t v);
void put_u32(std::string& out, std::uint32_t v);
// v <= kMaxVariableByteInteger (asserted).
void put_variable_int(std::string& out, std::uint32_t v);
// s.size() <= 65535 (asserted: the encoder's callers bound their strings).
void put_string(std::string& out, std::string_view s);
std::size_t variable_int_size(std::uint32_t v);

// Decodes a Variable Byte Integer at the start of `bytes`. Returns the number
// of bytes it took (1..4), 0 if more bytes are needed, or -1 if it is
// malformed (a fifth byte would be needed).
int decode_variable_int(std::string_view bytes, std::uint32_t& out);

}  // namespace ferry::mqtt
