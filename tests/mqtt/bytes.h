#pragma once

// Builders of MQTT bytes for the codec tests: written out by hand from the
// specification's layouts, independent of the encoder under test.

#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::mqtt::testing {

inline std::string vbi(std::uint32_t v) {
  std::string out;
  do {
    auto b = static_cast<unsigned char>(v & 0x7F);
    v >>= 7;
    if (v != 0) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (v != 0);
  return out;
}

inline std::string u16(std::uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)}; }

inline std::string u32(std::uint32_t v) { return u16(static_cast<std::uint16_t>(v >> 16)) + u16(v & 0xFFFF); }

inline std::string str(std::string_view s) { return u16(static_cast<std::uint16_t>(s.size())) + std::string(s); }

inline std::string byte(unsigned v) { return std::string(1, static_cast<char>(v)); }

// A whole packet: first byte, Remaining Length, body.
inline std::string packet(unsigned first, std::string_view body) {
  return byte(first) + vbi(static_cast<std::uint32_t>(body.size())) + std::string(body);
}

// A property block: length, then the properties' bytes.
inline std::string props(std::string_view body) { return vbi(static_cast<std::uint32_t>(body.size())) + std::string(body); }

// CONNECT's variable header for a level, flags and keep-alive.
inline std::string connect_header(unsigned level, unsigned flags, std::uint16_t keep_alive = 60) {
  return str("MQTT") + byte(level) + byte(flags) + u16(keep_alive);
}

}  // namespace ferry::mqtt::testing
