#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/session.h"

namespace ferry::net {

// A snapshot of one client connection for the management API, taken on the
// connection's shard (values only).
struct ConnectionInfo {
  ConnectionId id;
  std::string client_address;
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
  std::vector<Session::SubscriptionInfo> subscription_list;
};

}  // namespace ferry::net
