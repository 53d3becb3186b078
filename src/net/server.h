#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "broker/broker.h"
#include "broker/client_events.h"
#include "net/connection.h"
#include "net/connection_info.h"
#include "net/server_options.h"
#include "shard/shard_set.h"

namespace ferry::net {

// The STOMP listener and the connections of every shard. Accepts on shard 0
// and hands each socket to a shard round-robin; each shard's connections
// live in that shard's table, which is also where the broker's answers for
// them arrive (ClientEvents).
class Server {
 public:
  Server(const ServerOptions& options, shard::ShardSet& shards, broker::Broker& broker);
  ~Server();

  // Binds the listener (throws std::system_error on failure) and starts accepting.
  void start();
  // The bound endpoint (useful with port 0).
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  // Closes the listener and every connection; call before the shards stop.
  void stop();

  // Called every tick on each shard.
  void tick(ShardId shard, std::int64_t now_ms);

  // Management, called on `shard`: its connections, and closing one of them
  // with ERROR "closed by administrator" (false: no such connection there).
  std::vector<ConnectionInfo> connections(ShardId shard) const;
  bool close_connection(ShardId shard, ConnectionId id);
  std::size_t connection_count(ShardId shard) const;

 private:
  class ShardClients;  // one per shard: the ClientEvents implementation

  void accept();
  void adopt(ShardId shard, boost::asio::ip::tcp::socket::native_handle_type fd);

  const ServerOptions& options_;
  shard::ShardSet& shards_;
  broker::Broker& broker_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::vector<std::unique_ptr<ShardClients>> clients_;
  std::atomic<std::uint32_t> open_connections_{0};
  std::uint32_t next_shard_ = 0;
};

}  // namespace ferry::net
