#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/strong_id.h"

namespace ferry::net {

// One subscription of a connection, as the management API lists it.
struct SubscriptionInfo {
  std::string id;
  std::string destination;  // "/queue/x"
  std::string ack;          // auto, client, client-individual
  std::uint32_t prefetch = 0;
  std::size_t unacked = 0;
  bool durable = false;
  std::string name;         // the durable subscription's name
  std::uint64_t number = 0; // the broker's SubscriptionNo (ConsumerKey::subscription)
};

// A snapshot of one client connection for the management API, taken on the
// connection's shard (values only). The connection fills the transport's
// part, its Protocol the rest.
struct ConnectionInfo {
  ConnectionId id;
  std::string client_address;
  std::string server_address;  // this end: the listener's address and port
  std::optional<std::string> user;
  std::string vhost;
  std::string protocol;   // "STOMP 1.2"
  std::string transport;  // tcp, tls, ws, wss
  std::int64_t connected_at_ms = 0;
  bool connected = false;  // CONNECT done
  std::uint64_t subscriptions = 0;
  std::uint64_t unacked = 0;
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  double rate_in = 0;
  double rate_out = 0;
  bool blocked = false;  // reading paused: producer window full or output backlog (Connection::blocked)
  std::vector<SubscriptionInfo> subscription_list;
  // RabbitMQ's client_properties: what the client said of itself (MQTT:
  // client_id), name -> value.
  std::vector<std::pair<std::string, std::string>> client_properties;
};

// One shard's connections for /metrics: open now, opened and closed since
// start, and how many are blocked now (Connection::blocked).
struct ConnectionCounts {
  std::size_t open = 0;
  std::uint64_t opened = 0;
  std::uint64_t closed = 0;
  std::size_t blocked = 0;
};

}  // namespace ferry::net
