#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "broker/message.h"

namespace ferry::net {

// What a protocol session needs from the byte stream under it (TCP, TLS,
// WebSocket and WebSocket over TLS all look the same to it). Owned by the
// connection; called on its shard only.
class Transport {
 public:
  virtual ~Transport() = default;
  // Frames are appended here and written at the end of the current loop turn.
  virtual std::string& output() = 0;
  // Appends `bytes` without copying them; `owner` keeps them alive until
  // written. Frames continue in output() after it.
  virtual void output_reference(broker::MessageRef owner, std::string_view bytes) = 0;
  virtual void flush() = 0;
  // As flush(), for delivered messages (MESSAGE frames of a subscription):
  // the write may wait for a later turn of the loop, behind other
  // connections' deliveries, so that one large fan-out cannot hold the
  // shard (net::WriteTurns). Replies to the client's own frames use flush().
  virtual void flush_delivery() { flush(); }
  // Writes what is queued, then closes. Nothing more is read.
  virtual void close_after_flush() = 0;
  // Producer flow control: stop / resume reading the socket.
  virtual void pause_reading() = 0;
  virtual void resume_reading() = 0;
  // Heart-beat intervals agreed in the protocol's handshake (0 = none):
  // past send_ms without output the connection writes `beat`; past
  // heart-beat-grace x recv_ms without input it closes.
  virtual void set_heart_beat(std::uint32_t send_ms, std::uint32_t recv_ms, std::string_view beat) = 0;
  // Output the connection buffers for this client before it stops reading
  // it (max-write-buffer): what an auto-ack window may cost at most.
  virtual std::uint64_t max_write_buffer() const = 0;
  virtual std::string peer() const = 0;
  // "tcp", "tls", "ws" or "wss": the listener the client came in on.
  virtual std::string_view transport_name() const = 0;
  // CN of the verified client certificate (TLS listeners); "" if none.
  virtual std::string certificate_name() const { return ""; }
};

}  // namespace ferry::net
