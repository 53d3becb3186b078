#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/strong_id.h"
#include "net/connection_info.h"
#include "net/transport.h"

namespace ferry::net {

// What a connection carries: one protocol session (STOMP today; MQTT next)
// above the bytes. The connection owns it and calls it on its shard only;
// the session writes through the connection's Transport. Everything the
// protocol means (frames, logins, subscriptions, heart-beat negotiation)
// is the session's; the connection knows bytes, timers and closing.
class Protocol {
 public:
  virtual ~Protocol() = default;

  // Bytes read (in place: the session may parse and modify them). Returns
  // how many it consumed; the connection keeps the rest and offers them
  // again, with more, later. The session consumes nothing while it is
  // closing() or holding().
  virtual std::size_t on_bytes(std::span<char> data) = 0;
  // Fairness (issue 18 item 10): the last on_bytes stopped at the session's
  // budget of frames per call (kUnitsPerTurn) with bytes left. The
  // connection offers the rest in a later turn of the loop, after its
  // other connections' input has been read, instead of reading more.
  static constexpr std::size_t kUnitsPerTurn = 256;
  virtual bool yielded() const { return false; }
  // The client half-closed (end of input).
  virtual void on_end_of_input() = 0;
  // The transport is gone: give back everything held. Idempotent.
  virtual void on_closed() = 0;
  // Output queued so far has been handed to the socket / has been written.
  virtual void on_flush_started() = 0;
  virtual void on_flush_done() = 0;
  // Housekeeping every ~100 ms (mono_ms).
  virtual void tick(std::int64_t now_ms) = 0;
  // The protocol's last word before the connection closes (an ERROR frame,
  // a DISCONNECT): `reason` is one of the texts of net/errors.h.
  virtual void close_with_error(std::string_view reason, std::string_view detail = {}) = 0;

  virtual bool closing() const = 0;
  // Reading waits (a login being checked, a refusal being delayed).
  virtual bool holding() const = 0;
  // The protocol's handshake (CONNECT) is done.
  virtual bool connected() const = 0;
  // Messages received from / written to the client so far (rates).
  virtual std::uint64_t messages_in() const = 0;
  virtual std::uint64_t messages_out() const = 0;
  // Fills the protocol's part of a management snapshot (user, vhost,
  // protocol, subscriptions).
  virtual void describe(ConnectionInfo& info) const = 0;
  // Why the session ended the connection, if it did (the client's
  // DISCONNECT, the ERROR it was sent); empty otherwise. For the log line
  // of the close.
  virtual std::string close_reason() const { return {}; }
};

// How a listener makes the session of each connection it accepts.
struct ProtocolFactory {
  std::function<std::unique_ptr<Protocol>(Transport&, ShardId, ConnectionId)> make;
  // The bytes a client refused at max-connections gets before the close
  // (a STOMP ERROR frame), `reason` being net::errors::kTooManyConnections.
  std::function<std::string(std::string_view reason)> refusal;
  // The largest unit the protocol accepts (a WebSocket message carries one,
  // so it bounds those too).
  std::size_t max_unit_size = 0;
};

// Another protocol on a WebSocket listener, at its own request path: a
// connection whose handshake asks for `path` carries the session `protocol`
// makes instead of the listener's (MQTT at /mqtt on the STOMP WebSocket
// listeners, as ActiveMQ serves both on one port; docs/mqtt.md).
struct WebSocketRoute {
  std::string path;
  std::vector<std::string> protocols;  // subprotocols served at `path`
  ProtocolFactory protocol;
};

}  // namespace ferry::net
