#include "stomp/parse_error.h"

namespace ferry::stomp {

// These texts reach clients verbatim in the ERROR frame's `message` header,
// so they stay single-line, free of ':' and name the config option behind
// every limit.
std::string_view describe(ParseError e) {
  switch (e) {
    case ParseError::kNone: return "no error";
    case ParseError::kUnknownCommand: return "unknown command";
    case ParseError::kMalformedHeader: return "malformed header (expected name, colon, value)";
    case ParseError::kInvalidEscape: return "invalid escape sequence in header";
    case ParseError::kInvalidUtf8: return "command or header is not valid UTF-8";
    case ParseError::kInvalidContentLength: return "content-length is not a decimal number";
    case ParseError::kMissingNul: return "frame body not terminated by NUL after content-length bytes";
    case ParseError::kFrameTooLarge: return "frame too large (max-frame-size exceeded)";
    case ParseError::kBodyTooLarge: return "body too large (max-body-size exceeded)";
    case ParseError::kTooManyHeaders: return "too many headers (max-headers exceeded)";
    case ParseError::kHeaderTooLong: return "header line too long (max-header-length exceeded)";
    case ParseError::kNulInHeaders: return "NUL byte in command or headers";
  }
  return "invalid frame";
}

}  // namespace ferry::stomp
