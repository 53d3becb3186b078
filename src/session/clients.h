#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "broker/broker.h"
#include "broker/client_events.h"
#include "common/strong_id.h"

namespace ferry::session {

// The protocol sessions of every shard, by connection, as the broker
// reaches them: each shard's table is that shard's broker::ClientEvents,
// and a session is in it from its construction to its close. Events for a
// connection no longer there are dropped (the broker has taken back what it
// held). Lifetime: made after the broker, before the shards run; gone
// after they stop.
class Clients {
 public:
  explicit Clients(broker::Broker& broker);
  ~Clients();
  Clients(const Clients&) = delete;
  Clients& operator=(const Clients&) = delete;

  // On `shard`.
  void add(ShardId shard, ConnectionId id, broker::Client& client);
  void remove(ShardId shard, ConnectionId id);

 private:
  class Shard;
  broker::Broker& broker_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace ferry::session
