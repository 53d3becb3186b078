#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "stomp/frame.h"
#include "stomp/limits.h"
#include "stomp/parse_error.h"
#include "stomp/version.h"

namespace ferry::stomp {

// Incremental, zero-copy STOMP frame parser. Pure: no sockets, no clocks.
//
// The caller owns a read buffer holding the bytes not yet consumed, starting
// at the first byte of the next frame (or of heart-beat EOLs before it). It
// calls next() with the whole unconsumed span each time; the parser resumes
// scanning where it stopped (it stores offsets, never pointers, so the caller
// may grow or move the buffer between calls, as long as the bytes are the
// same and the span still starts at the same logical position).
//
// On kFrame, `consumed` bytes (including leading EOLs and the trailing NUL)
// belong to the frame; the caller drops them before the next call. Header
// names and values are unescaped in place inside the caller's buffer, so the
// Frame's views point into it and stay valid until the caller drops/moves
// those bytes or calls next() again. Leading EOLs alone (heart-beats) are
// reported as kNeedMore with `consumed` > 0 so the caller can drop them.
//
// Escaping follows the version given to set_version() (default 1.0 = none);
// CONNECT, STOMP and CONNECTED frames are never unescaped. CRLF line ends are
// accepted in every version. Limits are checked as bytes arrive: an oversize
// frame is refused before it is buffered whole.
//
// After kError the parser is unusable; the connection sends ERROR and closes.
class Parser {
 public:
  enum class Status { kNeedMore, kFrame, kError };

  struct Result {
    Status status = Status::kNeedMore;
    std::size_t consumed = 0;            // bytes the caller may drop now
    ParseError error = ParseError::kNone;
  };

  explicit Parser(const Limits& limits);

  void set_version(Version v) { version_ = v; }
  Version version() const { return version_; }

  // `data` must be mutable: unescaping happens in place.
  Result next(std::span<char> data, Frame& out);

  // Drops partial state (e.g. after the caller discarded its buffer).
  void reset();

 private:
  // Where the current frame stands. See docs/stomp.md for the rules applied.
  enum class Phase : unsigned char { kLeading, kCommand, kHeaders, kBody };
  enum class Step : unsigned char { kDone, kNeedMore, kError };

  // A completed header line, as offsets: views are made only when the frame
  // is returned, because the caller may move its buffer in between.
  struct HeaderSpan {
    std::size_t name = 0;
    std::size_t name_size = 0;
    std::size_t value = 0;
    std::size_t value_size = 0;
  };

  Result parse_frame(char* data, std::size_t avail, Frame& out);
  Step scan_line(const char* data, std::size_t avail);
  ParseError finish_command(const char* data);
  ParseError finish_header(char* data);
  Result complete(char* data, std::size_t nul, Frame& out);
  Result fail(ParseError e);
  void clear_frame();

  // Implementation state (offsets relative to data.begin()).
  Limits limits_;
  Version version_ = Version::k1_0;
  std::vector<Header> headers_;  // reused across frames: no per-frame allocation
  std::size_t scan_ = 0;         // bytes already examined in the current frame

  // Invariants between calls: in the command and header phases, bytes
  // [line_start_, scan_) hold neither LF nor NUL; in the body phase without
  // content-length, [body_start_, scan_) hold no NUL. Completed header lines
  // are already unescaped in the caller's buffer and recorded in spans_.
  Phase phase_ = Phase::kLeading;
  ParseError error_ = ParseError::kNone;  // sticky after kError
  Command command_ = Command::kSend;
  bool unescape_ = false;          // this frame's headers are escaped
  bool has_length_ = false;        // a content-length header was seen
  std::size_t content_length_ = 0;
  std::size_t frame_start_ = 0;    // first byte of the command line
  std::size_t line_start_ = 0;     // first byte of the line being scanned
  std::size_t line_end_ = 0;       // end of the last completed line, before CR LF
  std::size_t body_start_ = 0;
  std::vector<HeaderSpan> spans_;  // reused across frames, like headers_
};

}  // namespace ferry::stomp
