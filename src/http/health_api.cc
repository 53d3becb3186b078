// Health: /healthz and /readyz for supervisors and load balancers (no
// credentials), and RabbitMQ's health checks under /api/health/checks/ and
// /api/aliveness-test/VHOST, with RabbitMQ's JSON (docs/management.md,
// "Health"), so the probes written for RabbitMQ work unchanged.
#include <charconv>

#include "http/alarms.h"
#include "http/api.h"
#include "http/json.h"
#include "http/process_stats.h"

namespace ferry::http {

namespace {

struct AlarmPart {
  std::int64_t memory_used = 0;
};

Response check_failed(Json j) {
  j["status"] = "failed";
  return json_ok(j, 503);
}

}  // namespace

void add_health_routes(Router& r, ApiContext& ctx) {
  // Alive: the process answers on its event loop.
  r.add("GET", "/healthz", [](const Request&, const std::vector<std::string>&, Reply reply) {
    reply(json_ok(Json{{"status", "ok"}}));
  }, Router::Access::kOpen);
  // Ready: these routes exist once the journal is recovered and the client
  // listeners are up (before that, the server answers 503 itself).
  r.add("GET", "/readyz", [&ctx](const Request&, const std::vector<std::string>&, Reply reply) {
    Json listeners = Json::array();
    for (const Listener& l : ctx.listeners) listeners.push_back(l.protocol + " " + l.address);
    reply(json_ok(Json{{"status", "ready"}, {"listeners", listeners}}));
  }, Router::Access::kOpen);

  auto alarms = [&ctx](const Request&, const std::vector<std::string>&, Reply reply) {
    gather<AlarmPart>(
        ctx, [&ctx](ShardId s) { return AlarmPart{ctx.broker.local(s).memory_used()}; },
        [&ctx, reply](std::vector<AlarmPart> parts) {
          std::vector<std::int64_t> used;
          for (const AlarmPart& p : parts) used.push_back(p.memory_used);
          std::vector<std::string> active = active_alarms(ctx, used);
          if (active.empty()) return reply(json_ok(Json{{"status", "ok"}}));
          Json list = Json::array();
          for (const std::string& a : active) list.push_back(Json{{"node", node_name()}, {"resource", a}});
          reply(check_failed(Json{{"reason", "There are alarms in effect in the cluster"}, {"alarms", list}}));
        });
  };
  r.add("GET", "/api/health/checks/alarms", alarms);
  r.add("GET", "/api/health/checks/local-alarms", alarms);

  r.add("GET", "/api/health/checks/port-listener/{port}",
        [&ctx](const Request&, const std::vector<std::string>& cap, Reply reply) {
          unsigned port = 0;
          const std::string& text = cap[0];
          auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
          if (ec != std::errc() || p != text.data() + text.size() || port == 0 || port > 65535)
            return reply(error_response(400, "bad_request", "not a port: " + text));
          Json ports = Json::array();
          for (const Listener& l : ctx.listeners) {
            const auto colon = l.address.rfind(':');
            const std::string mine = l.address.substr(colon + 1);
            ports.push_back(std::stoul(mine));
            if (mine == text) return reply(json_ok(Json{{"status", "ok"}, {"port", port}}));
          }
          reply(check_failed(Json{{"reason", "No active listener"}, {"missing", port}, {"ports", ports}}));
        });

  r.add("GET", "/api/health/checks/virtual-hosts", [](const Request&, const std::vector<std::string>&, Reply reply) {
    // Every vhost of the users file is served as long as the broker runs.
    reply(json_ok(Json{{"status", "ok"}}));
  });

  // RabbitMQ's aliveness test: a message through a queue of the vhost and
  // back (queue "aliveness-test", non-persistent, taken out again).
  r.add("GET", "/api/aliveness-test/{vhost}",
        [&ctx](const Request&, const std::vector<std::string>& cap, Reply reply) {
          broker::Destination d{broker::DestinationKind::kQueue, "aliveness-test", cap[0]};
          const ShardId owner = ctx.broker.owner_of(d);
          broker::MessageRef m = broker::make_message();
          {
            broker::Message& w = m.writable();
            w.id = ctx.broker.next_message_id(ShardId(0));
            w.id_text = "aliveness-" + std::to_string(w.id.value);
            w.destination = d.to_string();
            w.body = "test";
          }
          ctx.broker.post(owner, [&ctx, d, m, owner, reply]() mutable {
            broker::ShardBroker& local = ctx.broker.local(owner);
            local.publish_internal(d, std::move(m));
            const std::size_t got = local.purge_queue(d).value_or(0);
            ctx.broker.post(ShardId(0), [got, reply] {
              if (got > 0) reply(json_ok(Json{{"status", "ok"}}));
              else reply(check_failed(Json{{"reason", "the test message did not come back"}}));
            });
          });
        });
}

}  // namespace ferry::http
