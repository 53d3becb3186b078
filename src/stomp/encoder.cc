#include "stomp/encoder.h"

#include <charconv>

#include "stomp/escaping.h"

namespace ferry::stomp {

void Encoder::begin_frame(std::string& out, Command c) {
  out += to_string(c);
  out += '\n';
}

void Encoder::add_header(std::string& out, std::string_view name, std::string_view value,
                         Version v, Command c) {
  // Frames that are never escaped (1.0, CONNECTED) still must not carry a raw
  // LF inside a header, so they get 1.0 treatment: CR/LF become spaces.
  const Version as = escapes_headers(v, c) ? v : Version::k1_0;
  append_escaped(out, name, as);
  out += ':';
  append_escaped(out, value, as);
  out += '\n';
}

void Encoder::end_headers(std::string& out, std::size_t body_size, bool with_length) {
  if (with_length) {
    char digits[24];
    const auto res = std::to_chars(digits, digits + sizeof digits, body_size);
    out += "content-length:";
    out.append(digits, res.ptr);
    out += '\n';
  }
  out += '\n';
}

void Encoder::end_frame(std::string& out) {
  // The NUL ends the frame; the EOL after it is an allowed inter-frame EOL.
  // PHP's stomp extension consumes one byte after each NUL and would eat the
  // next frame's first letter without it (ActiveMQ sends it too).
  out += '\0';
  out += '\n';
}

void Encoder::encode(std::string& out, Command c, std::span<const Header> headers,
                     std::string_view body, Version v) {
  std::size_t estimate = 32 + body.size();
  for (const Header& h : headers) estimate += h.name.size() + h.value.size() + 2;
  out.reserve(out.size() + estimate);

  begin_frame(out, c);
  for (const Header& h : headers) {
    // end_headers writes the true length; a caller's copy would come first
    // and win (first occurrence rules), so it is dropped.
    if (h.name == "content-length") continue;
    add_header(out, h.name, h.value, v, c);
  }
  end_headers(out, body.size(), true);
  out.append(body);
  end_frame(out);
}

}  // namespace ferry::stomp
