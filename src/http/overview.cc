// GET /api/overview: the broker at a glance (docs/management.md), and the
// history of its figures that RabbitMQ's ?msg_rates_age / ?lengths_age
// ranges read (overview_history.h).
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>

#include "common/clock.h"
#include "common/version.h"
#include "broker/exchanges.h"
#include "broker/routing_table.h"
#include "http/api.h"
#include "http/client_connections.h"
#include "http/json.h"
#include "http/alarms.h"
#include "http/overview_history.h"
#include "http/process_stats.h"

namespace ferry::http {

namespace {
struct OverviewPart {
  broker::ShardStats broker;
  std::uint64_t connections = 0;
};

// The shards' figures added up.
struct OverviewTotals {
  broker::ShardStats t;
  std::uint64_t connections = 0;
  std::vector<std::int64_t> memory_used;  // per shard (alarms)
};

// Gathers every shard's figures, then done(totals) on shard 0: what GET
// /api/overview answers and what the history samples.
void gather_totals(ApiContext& ctx, std::function<void(OverviewTotals)> done) {
  gather<OverviewPart>(
      ctx,
      [&ctx](ShardId s) {
        OverviewPart p;
        p.broker = ctx.broker.local(s).stats();
        const ClientConnectionCounts counts = client_connection_counts(ctx, s);
        p.connections = counts.stomp.open + counts.mqtt.open;
        return p;
      },
      [done = std::move(done)](std::vector<OverviewPart> parts) {
        OverviewTotals sum;
        broker::ShardStats& t = sum.t;
        for (const OverviewPart& p : parts) {
          const auto& s = p.broker;
          sum.connections += p.connections;
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
          sum.memory_used.push_back(s.memory_used);
          t.memory_overhead += s.memory_overhead;
        }
        done(std::move(sum));
      });
}

// Takes an OverviewHistory sample at every kIntervalMs boundary of the
// wall clock (so that samples line up with RabbitMQ's range timestamps),
// on shard 0, for as long as it lives (the router owns it; the timer's
// handler holds it weakly).
class OverviewSampler : public std::enable_shared_from_this<OverviewSampler> {
 public:
  explicit OverviewSampler(ApiContext& ctx) : ctx_(ctx), timer_(ctx.shards.io(ShardId(0))) {}

  // The first sample as soon as shard 0 runs, stamped with the slot it
  // falls in; then one per boundary.
  void start() { arm(0, wall_ms()); }

  const OverviewHistory& history() const { return history_; }

 private:
  void arm(std::int64_t delay_ms, std::int64_t stamp) {
    timer_.expires_after(std::chrono::milliseconds(delay_ms));
    timer_.async_wait([weak = weak_from_this(), stamp](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->take(stamp);
    });
  }

  void take(std::int64_t stamp) {
    gather_totals(ctx_, [weak = weak_from_this(), stamp](OverviewTotals sum) {
      auto self = weak.lock();
      if (!self) return;
      OverviewSample s;
      s.timestamp_ms = stamp;
      s.publish = sum.t.published;
      s.deliver_get = sum.t.totals.dequeued;
      s.ack = sum.t.totals.acked;
      s.redeliver = sum.t.totals.redelivered;
      s.messages = sum.t.ready + sum.t.unacked;
      s.messages_ready = sum.t.ready;
      s.messages_unacknowledged = sum.t.unacked;
      self->history_.record(s);
    });
    // The next boundary after both now and this one: a timer that fires a
    // little early (steady and wall clocks drift apart) does not sample the
    // same slot twice.
    constexpr std::int64_t kStep = OverviewHistory::kIntervalMs;
    const std::int64_t now = wall_ms();
    const std::int64_t next = (std::max(now, stamp) / kStep + 1) * kStep;
    arm(next - now, next);
  }

  ApiContext& ctx_;
  boost::asio::steady_timer timer_;
  OverviewHistory history_;
};

// A queue length's change per second over the last sampling interval
// (RabbitMQ's "rate" of queue_totals.messages and the like).
double length_rate(const OverviewHistory& h, SampleField field) {
  auto two = h.newest_two();
  if (!two) return 0;
  const auto& [newest, before] = *two;
  return (static_cast<double>(newest.*field) - static_cast<double>(before.*field)) * 1000.0 /
         static_cast<double>(newest.timestamp_ms - before.timestamp_ms);
}

// round_rate() for a rate that may be negative (a queue length falling).
double round_signed(double r) { return r < 0 ? -round_rate(-r) : round_rate(r); }

}  // namespace

void add_overview_routes(Router& r, ApiContext& ctx) {
  auto sampler = std::make_shared<OverviewSampler>(ctx);
  sampler->start();
  r.add("GET", "/api/overview", [&ctx, sampler](const Request& req, const std::vector<std::string>&, Reply reply) {
    auto msg_range = parse_sample_range(req, "msg_rates");
    if (!msg_range) return reply(error_response(400, "bad_request", msg_range.error().text()));
    auto length_range = parse_sample_range(req, "lengths");
    if (!length_range) return reply(error_response(400, "bad_request", length_range.error().text()));
    gather_totals(
        ctx,
        [&ctx, reply, sampler, msg_range = *msg_range, length_range = *length_range](OverviewTotals sum) {
          const broker::ShardStats& t = sum.t;
          const std::uint64_t connections = sum.connections;
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
              // The resource alarms in effect, as /api/health/checks/alarms
              // reports them ("memory", "disk"): the console's banner.
              {"alarms", active_alarms(ctx, sum.memory_used)},
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
          // RabbitMQ's _details of the queue lengths, and the samples a
          // range asks for (the console draws its charts from them when a
          // page opens).
          const OverviewHistory& history = sampler->history();
          struct Figure {
            const char* object;
            const char* details;
            SampleField field;
          };
          static constexpr Figure kLengths[] = {
              {"queue_totals", "messages_details", &OverviewSample::messages},
              {"queue_totals", "messages_ready_details", &OverviewSample::messages_ready},
              {"queue_totals", "messages_unacknowledged_details", &OverviewSample::messages_unacknowledged},
          };
          static constexpr Figure kMessages[] = {
              {"message_stats", "publish_details", &OverviewSample::publish},
              {"message_stats", "deliver_get_details", &OverviewSample::deliver_get},
              {"message_stats", "ack_details", &OverviewSample::ack},
              {"message_stats", "redeliver_details", &OverviewSample::redeliver},
          };
          for (const Figure& f : kLengths) j[f.object][f.details]["rate"] = round_signed(length_rate(history, f.field));
          const std::int64_t now = wall_ms();
          if (length_range) {
            const auto samples = history.range(now, *length_range);
            for (const Figure& f : kLengths) add_samples(j[f.object][f.details], samples, f.field);
          }
          if (msg_range) {
            const auto samples = history.range(now, *msg_range);
            for (const Figure& f : kMessages) add_samples(j[f.object][f.details], samples, f.field);
          }
          reply(json_ok(j));
        });
  });
}

}  // namespace ferry::http
