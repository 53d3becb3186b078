#include "stomp/escaping.h"

#include <cstring>

namespace ferry::stomp {

bool escapes_headers(Version v, Command c) {
  // STOMP 1.2 §"Value Encoding": CONNECT and CONNECTED frames are never
  // escaped, so that a 1.0 peer can read them during negotiation.
  if (v == Version::k1_0) return false;
  return c != Command::kConnect && c != Command::kStomp && c != Command::kConnected;
}

UnescapeResult unescape_in_place(char* text, std::size_t size, Version v) {
  if (v == Version::k1_0) return {size, ParseError::kNone};
  // Most headers hold no backslash: leave them untouched.
  char* first = static_cast<char*>(std::memchr(text, '\\', size));
  if (first == nullptr) return {size, ParseError::kNone};

  const char* in = first;
  const char* const end = text + size;
  char* out = first;  // out never passes in: each escape shrinks two bytes to one
  while (in < end) {
    if (*in != '\\') {
      *out++ = *in++;
      continue;
    }
    if (in + 1 == end) return {0, ParseError::kInvalidEscape};
    switch (in[1]) {
      case 'n': *out++ = '\n'; break;
      case 'c': *out++ = ':'; break;
      case '\\': *out++ = '\\'; break;
      case 'r':
        if (v == Version::k1_1) return {0, ParseError::kInvalidEscape};
        *out++ = '\r';
        break;
      default: return {0, ParseError::kInvalidEscape};
    }
    in += 2;
  }
  return {static_cast<std::size_t>(out - text), ParseError::kNone};
}

namespace {
bool needs_escape(char c) { return c == '\n' || c == '\r' || c == ':' || c == '\\'; }
}

void append_escaped(std::string& out, std::string_view text, Version v) {
  // Most values need no escaping: copy runs of plain bytes at once.
  std::size_t plain = 0;
  while (plain < text.size() && !needs_escape(text[plain])) ++plain;
  out.append(text.data(), plain);
  if (plain == text.size()) return;
  for (std::size_t i = plain; i < text.size(); ++i) {
    const char c = text[i];
    if (v == Version::k1_0) {
      out += (c == '\n' || c == '\r') ? ' ' : c;
      continue;
    }
    switch (c) {
      case '\n': out += "\\n"; break;
      case ':': out += "\\c"; break;
      case '\\': out += "\\\\"; break;
      case '\r':
        if (v == Version::k1_2) {
          out += "\\r";
        } else {
          // 1.1 has no escape for CR. Inside a value it travels raw; as the
          // last byte it would merge with the LF into a CRLF line end and be
          // lost, so it becomes a space like in 1.0.
          out += (i + 1 == text.size()) ? ' ' : '\r';
        }
        break;
      default: out += c; break;
    }
  }
}

}  // namespace ferry::stomp
