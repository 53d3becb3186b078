// /api/topics and /api/subscriptions (docs/management.md).
#include <algorithm>
#include <tuple>

#include "http/api.h"
#include "http/client_connections.h"
#include "http/json.h"

namespace ferry::http {

namespace {
using TopicList = std::vector<broker::TopicStats>;

struct SubscriptionPart {
  std::vector<net::ConnectionInfo> connections;
  std::vector<broker::DurableStats> durables;
};
}  // namespace

void add_topic_routes(Router& r, ApiContext& ctx) {
  r.add("GET", "/api/topics", [&ctx](const Request& req, const std::vector<std::string>&, Reply reply) {
    gather<TopicList>(
        ctx, [&ctx](ShardId s) { return ctx.broker.local(s).topic_stats(); },
        [reply, filter = req.vhosts](std::vector<TopicList> parts) {
          TopicList all;
          for (auto& p : parts)
            for (auto& t : p)
              if (filter.sees(t.destination.vhost)) all.push_back(std::move(t));
          std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
            return std::tie(a.destination.vhost, a.destination.name) <
                   std::tie(b.destination.vhost, b.destination.name);
          });
          Json out = Json::array();
          for (const auto& t : all)
            out.push_back({{"vhost", t.destination.vhost},
                           {"name", t.destination.name},
                           {"destination", t.destination.to_string()},
                           {"subscribers", t.subscribers},
                           {"durable_subscriptions", t.durable_subscriptions},
                           {"published", t.published},
                           {"rates", {{"in", round_rate(t.rate_in)}}}});
          reply(json_ok(out));
        });
  });

  // Subscriptions of connected clients (from their connections), then
  // durable subscriptions that have no consumer now (from the broker).
  r.add("GET", "/api/subscriptions", [&ctx](const Request& req, const std::vector<std::string>&, Reply reply) {
    gather<SubscriptionPart>(
        ctx,
        [&ctx](ShardId s) {
          SubscriptionPart p;
          p.connections = client_connections(ctx, s);
          p.durables = ctx.broker.local(s).durable_stats();
          return p;
        },
        [reply, filter = req.vhosts](std::vector<SubscriptionPart> parts) {
          Json out = Json::array();
          for (const auto& p : parts)
            for (const auto& c : p.connections) {
              if (!filter.sees(c.vhost)) continue;
              for (const auto& s : c.subscription_list)
                out.push_back({{"connection", std::to_string(c.id.value)},
                               {"vhost", c.vhost},
                               {"id", s.id},
                               {"destination", s.destination},
                               {"ack", s.ack},
                               {"prefetch", s.prefetch},
                               {"unacked", s.unacked},
                               {"durable", s.durable},
                               {"name", s.durable ? Json(s.name) : Json(nullptr)},
                               // attached: its owner is the connection's user
                               {"owner", s.durable && c.user ? Json(*c.user) : Json(nullptr)}});
            }
          for (const auto& p : parts)
            for (const auto& d : p.durables) {
              if (d.attached) continue;  // listed with its connection above
              if (!filter.sees(d.topic.vhost)) continue;
              out.push_back({{"connection", nullptr},
                             {"vhost", d.topic.vhost},
                             {"id", nullptr},
                             {"destination", d.topic.to_string()},
                             {"ack", nullptr},
                             {"prefetch", 0},
                             {"unacked", d.unacked},
                             {"durable", true},
                             {"name", d.name},
                             {"owner", d.owner.empty() ? Json(nullptr) : Json(d.owner)},
                             {"ready", d.ready}});
            }
          reply(json_ok(out));
        });
  });
}

}  // namespace ferry::http
