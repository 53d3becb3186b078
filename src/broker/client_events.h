#pragma once

#include <cstdint>
#include <string>

#include "broker/delivery.h"
#include "common/strong_id.h"

namespace ferry::broker {

// Ticket of an operation a connection sent to a destination's shard; the
// Outcome comes back with it.
struct OpTicket {
  ShardId shard;            // where the connection lives
  ConnectionId connection;
  std::uint64_t op = 0;     // connection-local sequence number
};

// How the broker talks back to connections. One implementation per shard
// (net/), always called on that shard. Events for a connection that has gone
// are ignored: the broker keeps the authoritative state and has already
// taken back what that connection held.
class ClientEvents {
 public:
  virtual ~ClientEvents() = default;
  virtual void deliver(ConnectionId c, SubscriptionNo sub, Delivery d) = 0;
  virtual void complete(ConnectionId c, std::uint64_t op, Outcome outcome) = 0;
  // The subscription was dropped by the broker (slow subscriber policy).
  virtual void kick(ConnectionId c, SubscriptionNo sub, std::string reason) = 0;
};

}  // namespace ferry::broker
