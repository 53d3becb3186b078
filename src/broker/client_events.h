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

// One connection's protocol session as the broker sees it (a STOMP session;
// an MQTT one next): where its deliveries and answers arrive, on its shard.
class Client {
 public:
  virtual ~Client() = default;
  virtual void on_delivery(SubscriptionNo sub, Delivery d) = 0;
  virtual void on_complete(std::uint64_t op, Outcome outcome) = 0;
  // The subscription was dropped by the broker (slow subscriber policy).
  virtual void on_kick(SubscriptionNo sub, std::string reason) = 0;
};

// How the broker talks back to connections. One implementation per shard
// (session/clients.h, which finds each connection's Client), always called
// on that shard. Events for a connection that has gone
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
