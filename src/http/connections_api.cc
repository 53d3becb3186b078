// /api/connections: list, show, close (docs/management.md).
#include <charconv>

#include "http/api.h"
#include "http/client_connections.h"
#include "http/connection_names.h"
#include "http/json.h"
#include "http/paging.h"
#include "http/process_stats.h"

namespace ferry::http {

namespace {

// Ferry's fields, then RabbitMQ's names for the same facts.
Json to_json(const net::ConnectionInfo& c) {
  const auto [peer_host, peer_port] = split_address(c.client_address);
  const auto [host, port] = split_address(c.server_address);
  Json client_properties = Json::object();
  for (const auto& [name, value] : c.client_properties) client_properties[name] = value;
  return Json{
      {"id", std::to_string(c.id.value)},
      {"client_address", c.client_address},
      {"user", c.user ? Json(*c.user) : Json(nullptr)},
      {"vhost", c.vhost},
      {"protocol", c.connected ? Json(c.protocol) : Json(nullptr)},
      {"transport", c.transport},
      // RabbitMQ's field: "blocked" while flow control holds the connection.
      {"state", c.blocked ? "blocked" : "running"},
      {"connected_at", c.connected_at_ms},
      {"subscriptions", c.subscriptions},
      {"unacked", c.unacked},
      {"messages_in", c.messages_in},
      {"messages_out", c.messages_out},
      {"rates", {{"in", round_rate(c.rate_in)}, {"out", round_rate(c.rate_out)}}},
      // RabbitMQ's
      {"name", connection_name(c)},
      {"peer_host", peer_host},
      {"peer_port", peer_port},
      {"host", host},
      {"port", port},
      {"channels", c.connected ? 1 : 0},  // a STOMP connection is one channel, as in RabbitMQ's plugin
      {"ssl", c.transport == "tls" || c.transport == "wss"},
      {"type", "network"},
      {"node", node_name()},
      {"client_properties", std::move(client_properties)},
      {"recv_cnt", c.messages_in},
      {"send_cnt", c.messages_out},
  };
}

// Connection ids carry their shard in the top 16 bits (net::Server).
std::optional<std::pair<ShardId, ConnectionId>> parse_id(const std::string& text, std::uint32_t shards) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  const auto shard = static_cast<std::uint32_t>(v >> 48);
  if (shard >= shards) return std::nullopt;
  return std::make_pair(ShardId(shard), ConnectionId(v));
}

using Infos = std::vector<net::ConnectionInfo>;

}  // namespace

void add_connection_routes(Router& r, ApiContext& ctx) {
  r.add("GET", "/api/connections", [&ctx](const Request& req, const std::vector<std::string>&, Reply reply) {
    gather<Infos>(
        ctx, [&ctx](ShardId s) { return client_connections(ctx, s); },
        [reply, req](std::vector<Infos> parts) {
          const VhostFilter& filter = req.vhosts;
          Json out = Json::array();
          for (const Infos& p : parts)
            for (const auto& c : p)
              if (filter.sees(c.vhost)) out.push_back(to_json(c));
          reply(paged(std::move(out), req));
        });
  });

  r.add("GET", "/api/connections/{id}", [&ctx](const Request& req, const std::vector<std::string>& cap, Reply reply) {
    auto id = parse_id(cap[0], ctx.shards.shard_count());
    if (!id) return reply(error_response(404, "not_found", "no connection " + cap[0]));
    const auto shard = id->first;  // named, not a structured binding: clang 14 cannot capture those
    const auto conn = id->second;
    ctx.shards.post(shard, [&ctx, shard, conn, reply, text = cap[0], filter = req.vhosts]() mutable {
      std::optional<net::ConnectionInfo> found;
      for (auto& c : client_connections(ctx, shard))
        if (c.id == conn && filter.sees(c.vhost)) found = std::move(c);
      ctx.shards.post(ShardId(0), [reply = std::move(reply), found = std::move(found), text] {
        if (!found) return reply(error_response(404, "not_found", "no connection " + text));
        Json j = to_json(*found);
        Json subs = Json::array();
        for (const auto& s : found->subscription_list)
          subs.push_back({{"id", s.id}, {"destination", s.destination}, {"ack", s.ack},
                          {"prefetch", s.prefetch}, {"unacked", s.unacked}, {"durable", s.durable},
                          {"name", s.durable ? Json(s.name) : Json(nullptr)}});
        j["subscription_details"] = subs;
        reply(json_ok(j));
      });
    });
  });

  r.add("DELETE", "/api/connections/{id}",
        [&ctx](const Request& req, const std::vector<std::string>& cap, Reply reply) {
          auto id = parse_id(cap[0], ctx.shards.shard_count());
          if (!id) return reply(error_response(404, "not_found", "no connection " + cap[0]));
          const auto shard = id->first;
          const auto conn = id->second;
          ctx.shards.post(shard, [&ctx, shard, conn, reply, text = cap[0], filter = req.vhosts]() mutable {
            // A connection in a vhost the user does not see is "not found".
            bool visible = false;
            for (const auto& c : client_connections(ctx, shard))
              if (c.id == conn) visible = filter.sees(c.vhost);
            const bool closed = visible && close_client_connection(ctx, shard, conn);
            ctx.shards.post(ShardId(0), [reply = std::move(reply), closed, text] {
              if (!closed) return reply(error_response(404, "not_found", "no connection " + text));
              Response res;
              res.status = 204;
              reply(std::move(res));
            });
          });
        });
}

}  // namespace ferry::http
