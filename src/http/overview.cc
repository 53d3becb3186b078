// GET /api/overview: the broker at a glance (docs/management.md).
#include "common/clock.h"
#include "common/version.h"
#include "broker/exchanges.h"
#include "broker/routing_table.h"
#include "http/api.h"
#include "http/json.h"
#include "http/process_stats.h"

namespace ferry::http {

namespace {
struct OverviewPart {
  broker::ShardStats broker;
  std::uint64_t connections = 0;
};
}  // namespace

void add_overview_routes(Router& r, ApiContext& ctx) {
  r.add("GET", "/api/overview", [&ctx](const Request&, const std::vector<std::string>&, Reply reply) {
    gather<OverviewPart>(
        ctx,
        [&ctx](ShardId s) {
          OverviewPart p;
          p.broker = ctx.broker.local(s).stats();
          p.connections = ctx.stomp.connection_count(s);
          return p;
        },
        [&ctx, reply](std::vector<OverviewPart> parts) {
          broker::ShardStats t;
          std::uint64_t connections = 0;
          for (const OverviewPart& p : parts) {
            const auto& s = p.broker;
            connections += p.connections;
            t.published += s.published;
            t.totals.dequeued += s.totals.dequeued;
            t.totals.acked += s.totals.acked;
            t.totals.redelivered += s.totals.redelivered;
            t.rate_publish += s.rate_publish;
            t.rate_deliver += s.rate_deliver;
            t.rate_ack += s.rate_ack;
            t.rate_redeliver += s.rate_redeliver;
            t.ready += s.ready;
            t.unacked += s.unacked;
            t.consumers += s.consumers;
            t.queues += s.queues;
            t.topics += s.topics;
            t.memory_used += s.memory_used;
            t.memory_overhead += s.memory_overhead;
          }
          Json listeners = Json::array();
          for (const Listener& l : ctx.listeners)
            listeners.push_back({{"protocol", l.protocol}, {"address", l.address}});
          const auto& o = ctx.options;
          // Shard 0's replica of the routing tables (this handler runs there).
          std::size_t exchanges = 0;
          broker::ExchangeReplica& replica = ctx.broker.exchanges(ShardId(0));
          for (const std::string& v : replica.vhosts())
            if (const broker::RoutingTable* t = replica.find(v)) exchanges += t->exchange_count();
          Json j{
              {"version", std::string(kVersion)},
              {"node", node_name()},
              {"uptime_ms", mono_ms() - ctx.started_mono_ms},
              {"shards", ctx.shards.shard_count()},
              {"connections", connections},
              {"consumers", t.consumers},
              {"queues", t.queues},
              {"topics", t.topics},
              {"messages", {{"ready", t.ready}, {"unacked", t.unacked}, {"total", t.ready + t.unacked}}},
              {"rates",
               {{"publish", round_rate(t.rate_publish)},
                {"deliver", round_rate(t.rate_deliver)},
                {"ack", round_rate(t.rate_ack)},
                {"redeliver", round_rate(t.rate_redeliver)}}},
              {"totals",
               {{"publish", t.published},
                {"deliver", t.totals.dequeued},
                {"ack", t.totals.acked},
                {"redeliver", t.totals.redelivered}}},
              {"memory",
               {{"rss_bytes", resident_bytes()},
                {"queued_bytes", t.memory_used},
                {"destinations_bytes", t.memory_overhead},
                {"limit_bytes", o.memory_limit}}},
              {"disk",
               {{"journal_bytes", ctx.journal ? ctx.journal->disk_bytes() : 0},
                {"limit_bytes", o.disk_limit},
                {"free_bytes", free_disk_bytes(ctx.data_dir)}}},
              {"listeners", listeners},
              // RabbitMQ's names for the same facts (rabbitmqadmin `show
              // overview`, dashboards). No rabbitmq_version: this is not
              // RabbitMQ, and tools that test it should not be misled.
              {"product_name", "Ferry"},
              {"product_version", std::string(kVersion)},
              {"management_version", std::string(kVersion)},
              {"cluster_name", node_name()},
              {"queue_totals",
               {{"messages", t.ready + t.unacked}, {"messages_ready", t.ready},
                {"messages_unacknowledged", t.unacked}}},
              {"object_totals",
               {{"connections", connections}, {"channels", connections}, {"consumers", t.consumers},
                {"queues", t.queues}, {"exchanges", exchanges}}},
              {"message_stats",
               {{"publish", t.published},
                {"publish_details", {{"rate", round_rate(t.rate_publish)}}},
                {"deliver_get", t.totals.dequeued},
                {"deliver_get_details", {{"rate", round_rate(t.rate_deliver)}}},
                {"ack", t.totals.acked},
                {"ack_details", {{"rate", round_rate(t.rate_ack)}}},
                {"redeliver", t.totals.redelivered},
                {"redeliver_details", {{"rate", round_rate(t.rate_redeliver)}}}}},
          };
          reply(json_ok(j));
        });
  });
}

}  // namespace ferry::http
