#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ferry::net::websocket {

// RFC 6455 opcodes.
enum class Opcode : std::uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// RFC 6455 close codes Ferry sends.
enum class CloseCode : std::uint16_t {
  kNormal = 1000,
  kGoingAway = 1001,
  kProtocolError = 1002,
  kTooBig = 1009,
};

// The client-to-server half of RFC 6455 framing (section 5; the rules are in
// docs/websocket-tls.md, "WebSocket details"), as a pure incremental
// decoder. Data frames (text, binary, continuation) carry one byte
// stream: their payloads are unmasked IN PLACE and moved to the front of
// the input, so the STOMP parser then works on them as on TCP bytes (a STOMP frame may span messages; a
// message may hold several frames). Control frames are read whole (<= 125
// bytes): a ping leaves a pong to send (only the latest ping is answered,
// as RFC 6455 5.5.3 allows, so a ping flood needs no buffer), a pong is
// ignored, a close ends decoding.
//
// The decoder keeps no reference to the input between calls: an
// unfinished frame header is copied (<= 14 bytes), an unfinished control
// payload too (<= 125 bytes).
class FrameDecoder {
 public:
  // max_message_size: payload bytes of one (possibly fragmented) data
  // message; bigger ones fail with kTooBig.
  explicit FrameDecoder(std::uint64_t max_message_size) : max_message_size_(max_message_size) {}

  enum class Status {
    kOk,     // all input consumed (the bytes after a close frame are ignored)
    kError,  // a protocol violation: error_code(), error_text(); stop feeding
  };
  struct Result {
    Status status = Status::kOk;
    std::size_t payload = 0;   // data payload bytes now at the front of the input
  };

  // Decodes all of `data`. Payload bytes of data frames end up in
  // data[0, result.payload), in order (the rest of `data` is garbage).
  Result decode(std::span<char> data);

  // The payload of the latest ping not yet answered, if any; clears it.
  bool take_ping(std::string& payload);
  // A close frame arrived (nothing after it is decoded), and its code
  // (1005 when it had none).
  bool closed() const { return closed_; }
  std::uint16_t close_code() const { return close_code_; }
  CloseCode error_code() const { return error_code_; }
  std::string_view error_text() const { return error_text_; }
  // True while a data message is unfinished (fragments or payload to come).
  bool in_message() const { return in_message_; }

 private:
  Result fail(Result r, CloseCode code, std::string_view text);
  bool header_complete() const;

  std::uint64_t max_message_size_;
  unsigned char header_[14] = {};
  std::size_t header_len_ = 0;
  // The frame being read (after its header).
  bool in_payload_ = false;
  bool fin_ = false;
  Opcode opcode_ = Opcode::kContinuation;
  std::uint64_t remaining_ = 0;
  unsigned char mask_[4] = {};
  std::size_t mask_pos_ = 0;
  // The data message being read.
  bool in_message_ = false;
  std::uint64_t message_size_ = 0;
  // The control frame being read.
  std::string control_;
  bool ping_pending_ = false;
  std::string ping_;
  bool closed_ = false;
  std::uint16_t close_code_ = 1005;
  bool failed_ = false;
  CloseCode error_code_ = CloseCode::kNormal;
  std::string error_text_;
};

// Server-to-client frame header (never masked) for a payload of `size`
// bytes; appends it to `out` (2, 4 or 10 bytes).
void append_frame_header(std::string& out, Opcode opcode, bool fin, std::uint64_t size);
// A whole control frame: close with a code and reason (reason cut to fit
// 125 bytes), or ping/pong with `payload` (<= 125 bytes).
std::string close_frame(CloseCode code, std::string_view reason);
std::string control_frame(Opcode opcode, std::string_view payload);

}  // namespace ferry::net::websocket
