#pragma once

#include <string_view>

namespace ferry::stomp {

// Why a byte stream is not valid STOMP. Each names the rule or limit broken;
// describe() gives the text sent in the ERROR frame's `message` header.
enum class ParseError {
  kNone,
  kUnknownCommand,        // command line is not a STOMP command
  kMalformedHeader,       // header line without ':' or with an empty name
  kInvalidEscape,         // undefined escape sequence (1.1+): "\t", trailing "\"
  kInvalidUtf8,           // command or header not valid UTF-8
  kInvalidContentLength,  // content-length not a decimal number
  kMissingNul,            // content-length bytes not followed by NUL
  kFrameTooLarge,         // exceeds Limits::max_frame_size
  kBodyTooLarge,          // exceeds Limits::max_body_size
  kTooManyHeaders,        // exceeds Limits::max_headers
  kHeaderTooLong,         // a header line exceeds Limits::max_header_length
  kNulInHeaders,          // NUL byte before the blank line ending headers
};

std::string_view describe(ParseError e);

}  // namespace ferry::stomp
