#include "stomp/parser.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

#include "stomp/escaping.h"

// The wire format and every rule applied here are written down, byte by
// byte, in docs/stomp.md.
//
// Split independence: every decision is a function of the bytes up to a
// fixed position in the frame, and the earliest such position wins. A
// shorter prefix of the same bytes therefore either reaches the same
// decision or asks for more; it never reaches a different one. That is what
// makes a frame split at any byte parse exactly like the whole frame.

namespace ferry::stomp {
namespace {

std::size_t sat_add(std::size_t a, std::size_t b) {
  return b > std::numeric_limits<std::size_t>::max() - a ? std::numeric_limits<std::size_t>::max()
                                                         : a + b;
}

bool is_ascii(const char* p, std::size_t n) {
  std::uint64_t acc = 0;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, p + i, 8);
    acc |= word;
  }
  for (; i < n; ++i) acc |= static_cast<unsigned char>(p[i]);
  return (acc & 0x8080808080808080ull) == 0;
}

// RFC 3629: rejects overlong forms, surrogates and code points past U+10FFFF.
bool is_valid_utf8(const char* text, std::size_t n) {
  if (is_ascii(text, n)) return true;
  const auto* p = reinterpret_cast<const unsigned char*>(text);
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c < 0xC2) {
      return false;  // stray continuation byte, or overlong 2-byte lead
    } else if (c < 0xE0) {
      len = 2;
    } else if (c < 0xF0) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // UTF-16 surrogates
    } else if (c < 0xF5) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // past U+10FFFF
    } else {
      return false;
    }
    if (n - i < len) return false;
    if (p[i + 1] < lo || p[i + 1] > hi) return false;
    for (std::size_t k = 2; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

}  // namespace

Parser::Parser(const Limits& limits) : limits_(limits) {
  headers_.reserve(16);
  spans_.reserve(16);
}

void Parser::reset() {
  clear_frame();
  error_ = ParseError::kNone;
}

void Parser::clear_frame() {
  phase_ = Phase::kLeading;
  scan_ = 0;
  has_length_ = false;
  content_length_ = 0;
  frame_start_ = line_start_ = line_end_ = body_start_ = 0;
  spans_.clear();  // keeps capacity
}

Parser::Result Parser::fail(ParseError e) {
  error_ = e;
  return {Status::kError, 0, e};
}

Parser::Result Parser::next(std::span<char> data, Frame& out) {
  if (error_ != ParseError::kNone) return {Status::kError, 0, error_};
  char* const d = data.data();
  const std::size_t size = data.size();

  if (phase_ == Phase::kLeading) {
    // Heart-beats: any number of LF or CRLF before a command.
    std::size_t p = 0;
    bool only_eols = true;
    while (p < size) {
      if (d[p] == '\n') {
        ++p;
      } else if (d[p] == '\r' && p + 1 < size && d[p + 1] == '\n') {
        p += 2;
      } else {
        // A CR as the last byte may still become a CRLF.
        only_eols = d[p] == '\r' && p + 1 == size;
        break;
      }
    }
    if (only_eols) {
      // Nothing but heart-beats: hand them back. State stays empty, so this
      // is right whether or not the caller drops them before the next call.
      return {Status::kNeedMore, p, ParseError::kNone};
    }
    phase_ = Phase::kCommand;
    frame_start_ = line_start_ = scan_ = p;
  }

  // Nothing past max_frame_size bytes of the frame is ever looked at, so an
  // oversize frame is refused as soon as that many bytes are buffered.
  const std::size_t cap = sat_add(frame_start_, limits_.max_frame_size);
  const Result r = parse_frame(d, std::min(size, cap), out);
  if (r.status == Status::kNeedMore && size >= cap) return fail(ParseError::kFrameTooLarge);
  return r;
}

Parser::Result Parser::parse_frame(char* d, std::size_t avail, Frame& out) {
  if (phase_ == Phase::kCommand) {
    switch (scan_line(d, avail)) {
      case Step::kNeedMore: return {};
      case Step::kError: return {Status::kError, 0, error_};
      case Step::kDone: break;
    }
    if (const ParseError e = finish_command(d); e != ParseError::kNone) return fail(e);
    phase_ = Phase::kHeaders;
    line_start_ = scan_;
  }

  while (phase_ == Phase::kHeaders) {
    switch (scan_line(d, avail)) {
      case Step::kNeedMore: return {};
      case Step::kError: return {Status::kError, 0, error_};
      case Step::kDone: break;
    }
    if (line_end_ == line_start_) {  // the blank line ending the headers
      phase_ = Phase::kBody;
      body_start_ = scan_;
      if (has_length_) {
        // The whole frame's size is known now: refuse it before its body.
        const std::size_t total = sat_add(body_start_ - frame_start_, sat_add(content_length_, 1));
        if (total > limits_.max_frame_size) return fail(ParseError::kFrameTooLarge);
      }
      break;
    }
    if (spans_.size() == limits_.max_headers) return fail(ParseError::kTooManyHeaders);
    if (const ParseError e = finish_header(d); e != ParseError::kNone) return fail(e);
    line_start_ = scan_;
  }

  if (has_length_) {
    // Body bytes are opaque (NULs allowed); only the byte after them is read.
    const std::size_t nul = body_start_ + content_length_;
    if (nul >= avail) return {};
    if (d[nul] != '\0') return fail(ParseError::kMissingNul);
    return complete(d, nul, out);
  }

  // No content-length: the body runs to the first NUL. A body of exactly
  // max_body_size bytes is fine, so the proof of excess is the byte after.
  const std::size_t body_limit = sat_add(body_start_, sat_add(limits_.max_body_size, 1));
  const std::size_t stop = std::min(avail, body_limit);
  if (scan_ < stop) {
    if (const void* nul = std::memchr(d + scan_, '\0', stop - scan_)) {
      return complete(d, static_cast<const char*>(nul) - d, out);
    }
    scan_ = stop;
  }
  if (body_limit <= avail) return fail(ParseError::kBodyTooLarge);
  return {};
}

// Finds the end of the line starting at line_start_. On kDone, line_end_ is
// where its content ends (before CR LF) and scan_ is the next line's start.
//
// A line's content may be max_header_length bytes, so the decision is made
// at the latest at byte line_start_ + max_header_length + 1 (the LF after a
// CR after a full line): an endless line is refused before its EOL arrives.
Parser::Step Parser::scan_line(const char* d, std::size_t avail) {
  const std::size_t window = sat_add(line_start_, sat_add(limits_.max_header_length, 1));
  const std::size_t stop = std::min(avail, window);
  if (scan_ < stop) {
    const auto* lf = static_cast<const char*>(std::memchr(d + scan_, '\n', stop - scan_));
    const std::size_t end = lf != nullptr ? static_cast<std::size_t>(lf - d) : stop;
    if (std::memchr(d + scan_, '\0', end - scan_) != nullptr) {
      fail(ParseError::kNulInHeaders);
      return Step::kError;
    }
    if (lf != nullptr) {
      line_end_ = (end > line_start_ && d[end - 1] == '\r') ? end - 1 : end;
      scan_ = end + 1;
      return Step::kDone;
    }
    scan_ = stop;
  }
  if (stop < window) return Step::kNeedMore;

  // max_header_length + 1 bytes without LF or NUL: too long, unless the last
  // is the CR of a CRLF that ends a line of exactly the maximum length.
  if (d[window - 1] == '\r') {
    if (avail == window) return Step::kNeedMore;
    if (d[window] == '\n') {
      line_end_ = window - 1;
      scan_ = window + 1;
      return Step::kDone;
    }
  }
  fail(ParseError::kHeaderTooLong);
  return Step::kError;
}

ParseError Parser::finish_command(const char* d) {
  const char* line = d + line_start_;
  const std::size_t size = line_end_ - line_start_;
  if (!is_valid_utf8(line, size)) return ParseError::kInvalidUtf8;
  const auto command = parse_command(std::string_view(line, size));
  if (!command) return ParseError::kUnknownCommand;
  command_ = *command;
  unescape_ = escapes_headers(version_, command_);
  return ParseError::kNone;
}

ParseError Parser::finish_header(char* d) {
  char* const line = d + line_start_;
  const std::size_t size = line_end_ - line_start_;
  if (!is_valid_utf8(line, size)) return ParseError::kInvalidUtf8;

  // The value is everything after the first colon, in every version; an
  // escaped colon is "\c", so a raw one always separates.
  const auto* colon = static_cast<const char*>(std::memchr(line, ':', size));
  if (colon == nullptr || colon == line) return ParseError::kMalformedHeader;

  HeaderSpan span;
  span.name = line_start_;
  span.name_size = static_cast<std::size_t>(colon - line);
  span.value = span.name + span.name_size + 1;
  span.value_size = size - span.name_size - 1;
  if (unescape_) {
    const UnescapeResult name = unescape_in_place(line, span.name_size, version_);
    if (name.error != ParseError::kNone) return name.error;
    const UnescapeResult value = unescape_in_place(d + span.value, span.value_size, version_);
    if (value.error != ParseError::kNone) return value.error;
    span.name_size = name.length;
    span.value_size = value.length;
  }
  spans_.push_back(span);

  // First occurrence wins; later content-length headers are not looked at.
  if (!has_length_ && std::string_view(line, span.name_size) == "content-length") {
    const std::string_view value(d + span.value, span.value_size);
    if (value.empty()) return ParseError::kInvalidContentLength;
    // Digits are checked to the end (a malformed number is reported as
    // such); the value saturates once past the limit, so it cannot overflow.
    const std::size_t max = limits_.max_body_size;
    std::size_t n = 0;
    bool too_large = false;
    for (const char c : value) {
      if (c < '0' || c > '9') return ParseError::kInvalidContentLength;
      const auto digit = static_cast<std::size_t>(c - '0');
      if (too_large || n > max / 10 || (n == max / 10 && digit > max % 10)) {
        too_large = true;
      } else {
        n = n * 10 + digit;
      }
    }
    if (too_large) return ParseError::kBodyTooLarge;
    has_length_ = true;
    content_length_ = n;
  }
  return ParseError::kNone;
}

Parser::Result Parser::complete(char* d, std::size_t nul, Frame& out) {
  headers_.clear();  // keeps capacity
  for (const HeaderSpan& s : spans_) {
    headers_.push_back({std::string_view(d + s.name, s.name_size),
                        std::string_view(d + s.value, s.value_size)});
  }
  out.command = command_;
  out.headers = headers_;
  out.body = std::string_view(d + body_start_, nul - body_start_);
  clear_frame();
  return {Status::kFrame, nul + 1, ParseError::kNone};
}

}  // namespace ferry::stomp
