#pragma once

#include <string>
#include <string_view>

#include "stomp/command.h"
#include "stomp/parse_error.h"
#include "stomp/version.h"

namespace ferry::stomp {

// Whether frames of this command escape their headers in this version
// (never in 1.0; never CONNECT/STOMP/CONNECTED).
bool escapes_headers(Version v, Command c);

// Unescapes `text` in place (the result is never longer). Returns the new
// length, or ParseError::kInvalidEscape for an undefined sequence.
// 1.1: \n \c \\ ; 1.2: also \r.
struct UnescapeResult {
  std::size_t length = 0;
  ParseError error = ParseError::kNone;
};
UnescapeResult unescape_in_place(char* text, std::size_t size, Version v);

// Appends `text` escaped for version `v` to `out`. In 1.0, where nothing can
// be escaped, CR and LF are replaced by spaces so the frame stays well formed.
void append_escaped(std::string& out, std::string_view text, Version v);

}  // namespace ferry::stomp
