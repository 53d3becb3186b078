#include "http/client_connections.h"

namespace ferry::http {

namespace {
bool is_mqtt(const ApiContext& ctx, ConnectionId id) {
  return ctx.mqtt != nullptr && ctx.mqtt_id_bit != 0 && (id.value & ctx.mqtt_id_bit) != 0;
}
}  // namespace

std::vector<net::ConnectionInfo> client_connections(ApiContext& ctx, ShardId shard) {
  std::vector<net::ConnectionInfo> out = ctx.stomp.connections(shard);
  if (ctx.mqtt == nullptr) return out;
  for (net::ConnectionInfo& c : ctx.mqtt->connections(shard)) {
    // A connection still before its CONNECT has no session id yet: the
    // MQTT server's own, marked.
    c.id = ConnectionId(c.id.value | ctx.mqtt_id_bit);
    out.push_back(std::move(c));
  }
  return out;
}

bool close_client_connection(ApiContext& ctx, ShardId shard, ConnectionId id) {
  if (ctx.mqtt_stomp_ws_bit != 0 && (id.value & ctx.mqtt_stomp_ws_bit) != 0)
    return ctx.stomp.close_connection(shard, ConnectionId(id.value & ~(ctx.mqtt_stomp_ws_bit | ctx.mqtt_id_bit)));
  if (is_mqtt(ctx, id)) return ctx.mqtt->close_connection(shard, ConnectionId(id.value & ~ctx.mqtt_id_bit));
  return ctx.stomp.close_connection(shard, id);
}

ClientConnectionCounts client_connection_counts(ApiContext& ctx, ShardId shard) {
  ClientConnectionCounts c;
  c.stomp = ctx.stomp.connection_counts(shard);
  if (ctx.mqtt != nullptr) {
    c.mqtt = ctx.mqtt->connection_counts(shard);
    // MQTT over the STOMP WebSocket listeners (mqtt-ws-path).
    const net::ConnectionCounts routed = ctx.stomp.routed_connection_counts(shard);
    c.mqtt.open += routed.open;
    c.mqtt.opened += routed.opened;
    c.mqtt.closed += routed.closed;
    c.mqtt.blocked += routed.blocked;
  }
  return c;
}

}  // namespace ferry::http
