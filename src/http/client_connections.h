#pragma once

#include <vector>

#include "common/strong_id.h"
#include "http/context.h"
#include "net/connection_info.h"

namespace ferry::http {

// The client connections of one shard, whatever protocol they speak: the
// STOMP server's, then the MQTT server's (ApiContext::mqtt), the latter
// with their ids as the broker knows them (ApiContext::mqtt_id_bit set).
// Call on `shard`.
std::vector<net::ConnectionInfo> client_connections(ApiContext& ctx, ShardId shard);

// Closes the connection `id` (as client_connections() lists it) of `shard`:
// a STOMP one with ERROR, an MQTT 5 one with DISCONNECT (3.1.1: the close).
// False if there is no such connection. Call on `shard`.
bool close_client_connection(ApiContext& ctx, ShardId shard, ConnectionId id);

// One shard's connection counts by protocol, for /metrics.
struct ClientConnectionCounts {
  net::ConnectionCounts stomp;
  net::ConnectionCounts mqtt;
};
ClientConnectionCounts client_connection_counts(ApiContext& ctx, ShardId shard);

}  // namespace ferry::http
