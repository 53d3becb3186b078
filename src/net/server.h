#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "net/connection.h"
#include "net/connection_info.h"
#include "net/listener_options.h"
#include "net/protocol.h"
#include "net/tls_context.h"
#include "shard/shard_set.h"

namespace ferry::net {

// The listeners (TCP, and when configured TLS, WebSocket and WebSocket+TLS)
// and the connections of every shard. Accepts on shard 0 and hands each
// socket to a shard round-robin; each shard's connections live in that
// shard's table. Each connection carries the protocol session that
// `protocol` makes. max-connections counts the connections of all listeners
// together.
class Server {
 public:
  Server(const ListenerOptions& options, ProtocolFactory protocol, shard::ShardSet& shards);
  ~Server();

  // What a listener speaks.
  enum class Kind { kStomp, kTls, kWebSocket, kWebSocketTls };
  struct Listening {
    Kind kind;
    boost::asio::ip::tcp::endpoint endpoint;  // bound (useful with port 0)
  };

  // Builds the TLS context if a TLS listener is configured, binds every
  // listener and starts accepting. The Error names the option (e.g.
  // "listen 0.0.0.0:61613: bind: Address already in use").
  Status start();
  // Before start(): another protocol at its own path on the WebSocket
  // listeners (see WebSocketRoute).
  void add_ws_route(WebSocketRoute route) { ws_routes_.push_back(std::move(route)); }
  // The bound endpoint of the STOMP (TCP) listener.
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  // Every bound listener, STOMP first.
  std::vector<Listening> listening() const;
  // "HOST:PORT (WebSocket)", as logged after "listening on".
  static std::string describe(const Listening& l);
  // Closes the listener and every connection; call before the shards stop.
  void stop();

  // Called every tick on each shard.
  void tick(ShardId shard, std::int64_t now_ms);

  // Management, called on `shard`: its connections, and closing one of them
  // with ERROR "closed by administrator" (false: no such connection there).
  std::vector<ConnectionInfo> connections(ShardId shard) const;
  bool close_connection(ShardId shard, ConnectionId id);
  std::size_t connection_count(ShardId shard) const;
  // The listener's protocol's connections (a WebSocket connection routed
  // to another protocol's path, add_ws_route, is not among them).
  ConnectionCounts connection_counts(ShardId shard) const;
  // Those routed to another protocol's path (MQTT at mqtt-ws-path).
  ConnectionCounts routed_connection_counts(ShardId shard) const;

 private:
  class ShardConnections;  // one per shard

  struct Listener {
    Kind kind;
    std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor;
  };

  Status listen(Kind kind, const std::string& host, std::uint16_t port, const char* option);
  void accept(Listener& listener);
  void refuse(Kind kind, boost::asio::ip::tcp::socket& socket);
  void adopt(ShardId shard, Kind kind, boost::asio::ip::tcp::socket::native_handle_type fd);

  const ListenerOptions& options_;
  ProtocolFactory protocol_;
  std::vector<WebSocketRoute> ws_routes_;
  shard::ShardSet& shards_;
  std::unique_ptr<TlsContext> tls_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::unique_ptr<ShardConnections>> clients_;
  std::atomic<std::uint32_t> open_connections_{0};
  std::uint32_t next_shard_ = 0;
};

}  // namespace ferry::net
