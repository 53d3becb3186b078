#pragma once

#include <cstddef>
#include <string_view>

namespace ferry::selector {

// Bytes of the UTF-8 sequence starting at s[i] (1 for a byte that starts
// none, or a sequence cut short: bad input is taken a byte at a time).
inline std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 1;
  if (i + n > s.size()) return 1;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 1;
  return n;
}

// The code point of one sequence as utf8_length() cut it.
inline char32_t decode_utf8(std::string_view ch) {
  const auto b0 = static_cast<unsigned char>(ch[0]);
  if (ch.size() == 1) return b0;
  char32_t c = ch.size() == 2 ? (b0 & 0x1F) : ch.size() == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (std::size_t k = 1; k < ch.size(); ++k) c = (c << 6) | (static_cast<unsigned char>(ch[k]) & 0x3F);
  return c;
}

// 1-based character (code point) position of byte offset `at` in `s`.
inline std::size_t char_position(std::string_view s, std::size_t at) {
  std::size_t pos = 1;
  for (std::size_t i = 0; i < at && i < s.size();) {
    i += utf8_length(s, i);
    ++pos;
  }
  return pos;
}

}  // namespace ferry::selector
