#pragma once

#include <boost/asio/buffer.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "net/websocket/frame_codec.h"
#include "net/websocket/handshake.h"
#include "net/websocket/message_framer.h"

namespace ferry::net::websocket {

// STOMP over WebSocket for one connection: the opening handshake, then
// inbound framing (FrameDecoder, in place) and outbound framing
// (MessageFramer), plus the control frames this side owes (handshake
// response, pongs, the closing frame). Connection runs it between its Link
// and its STOMP parser; it does no I/O itself. One shard.
class Layer {
 public:
  // `path`: ws-path; `max_message_size`: max-frame-size; `protocols`: the
  // subprotocols served (empty: STOMP's, see Handshake).
  Layer(std::string path, std::uint64_t max_message_size, std::vector<std::string> protocols = {});

  // What arrived, after inbound().
  struct Inbound {
    std::size_t stomp_bytes = 0;  // STOMP bytes now at the front of the input
    bool failed = false;          // handshake rejected / protocol error: send urgent(), close
    bool peer_closed = false;     // the client sent a close frame: as end of input
  };
  // Takes `n` bytes at `data` (handshake, then frames) and leaves the STOMP
  // bytes they carry at data[0, stomp_bytes).
  Inbound inbound(char* data, std::size_t n);

  // Another request path with its subprotocols (Handshake::add_endpoint).
  void add_endpoint(std::string path, std::vector<std::string> protocols) {
    handshake_.add_endpoint(std::move(path), std::move(protocols));
  }
  // Once open(): which path the client asked for (0: the constructor's).
  std::size_t endpoint() const { return handshake_.endpoint(); }

  // Handshake done: STOMP flows.
  bool open() const { return open_; }
  // Why it failed (for the log).
  const std::string& failure() const { return failure_; }

  // Raw bytes to write before the next framed output (handshake answer,
  // pongs, the closing frame); the caller takes them.
  std::string& urgent() { return urgent_; }
  // Queues the closing frame into urgent() (once); returns false when none
  // is owed (not open, or already sent).
  bool queue_close();
  bool close_sent() const { return close_sent_; }

  // Frames outbound bytes: STOMP's one frame per message (MessageFramer);
  // another protocol's (MQTT, whose packets may span messages and share
  // them) each call's bytes as one binary message.
  void frame(const std::vector<boost::asio::const_buffer>& in, std::vector<boost::asio::const_buffer>& out);

 private:
  Handshake handshake_;
  FrameDecoder decoder_;
  MessageFramer framer_;
  bool stomp_ = true;          // once open: the path serves STOMP (else a byte stream, MQTT)
  std::string stream_header_;  // the binary message header of the last frame() (not STOMP)
  bool open_ = false;
  bool failed_ = false;
  bool close_sent_ = false;
  CloseCode close_code_ = CloseCode::kNormal;
  std::string close_reason_;
  std::string failure_;
  std::string urgent_;
};

}  // namespace ferry::net::websocket
