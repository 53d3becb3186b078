#pragma once

#include <boost/asio/buffer.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ferry::net::websocket {

// Server-to-client side of STOMP over WebSocket: turns the byte stream a
// Session writes (whole STOMP frames and heart-beat EOLs, as for TCP) into
// WebSocket messages, one STOMP frame per message and each heart-beat EOL
// a message of its own, without copying the frames: frame(...) returns the
// input buffers with a WebSocket header before each message.
//
// The EOL the encoder writes after each frame's NUL goes in the frame's
// message (as RabbitMQ Web-STOMP sends it): a message of its own would look
// like a heart-beat and doubles the message count for clients that parse one
// frame per message (stompjs). Only an EOL that follows the NUL within the
// same call is taken along; any further EOL is a heart-beat.
//
// Frame boundaries are found by reading the server's own frames (command
// line, headers up to the blank line, content-length bytes or up to NUL,
// then the NUL). A message is a text frame when its bytes are valid UTF-8
// (what browsers accept in text frames) and binary otherwise. A STOMP frame
// that does not end within one call (never the case for Session's output,
// which queues whole frames) is sent as a fragmented binary message whose
// last fragment comes with the next call. State carries across calls.
// Owned by one connection; one shard.
class MessageFramer {
 public:
  // `in`: the bytes to send, in order (valid until the write completes).
  // `out` is replaced with the buffers to write: WebSocket headers (held by
  // this object until the next call) and the bytes of `in`.
  void frame(const std::vector<boost::asio::const_buffer>& in, std::vector<boost::asio::const_buffer>& out);

  // True when the last call ended inside a STOMP frame (a control frame may
  // still be sent: RFC 6455 allows them between fragments).
  bool mid_message() const { return state_ != State::kFrameStart || fragmented_; }

 private:
  enum class State { kFrameStart, kHeaders, kBody, kBodyToNul, kNul, kTrailingEol, kTrailingLf };
  struct Span {
    std::size_t piece;
    std::size_t offset;
    std::size_t size;
  };
  // Walks `in` from (piece, offset), consuming the current message's bytes
  // into spans; returns true if the message ended.
  bool scan(const std::vector<boost::asio::const_buffer>& in, std::size_t& piece, std::size_t& offset,
            std::vector<Span>& spans);
  void header_byte(char c);

  State state_ = State::kFrameStart;
  bool fragmented_ = false;      // a message was started but not finished
  std::string line_;             // the start of the current header line (bounded)
  bool line_long_ = false;       // line_ was cut
  bool first_line_ = true;       // the command line
  std::uint64_t content_length_ = 0;
  bool has_length_ = false;
  std::uint64_t body_left_ = 0;
  std::vector<std::array<char, 10>> headers_;
  std::vector<std::size_t> header_sizes_;
};

// True if `bytes` is valid UTF-8 (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF).
class Utf8Validator {
 public:
  void feed(const unsigned char* p, std::size_t n);
  bool valid() const { return ok_ && need_ == 0; }

 private:
  bool ok_ = true;
  int need_ = 0;           // continuation bytes still expected
  unsigned char lo_ = 0x80, hi_ = 0xBF;  // range of the next continuation byte
};

}  // namespace ferry::net::websocket
