// GET /metrics: Prometheus text exposition format 0.0.4 (docs/metrics.md).
#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "common/clock.h"
#include "common/version.h"
#include "http/api.h"
#include "http/client_connections.h"
#include "http/process_stats.h"

namespace ferry::http {

namespace {

struct MetricsPart {
  broker::ShardStats shard;
  std::vector<broker::QueueStats> queues;
  std::vector<broker::TopicStats> topics;
  std::vector<broker::DurableStats> durables;
  std::vector<broker::StreamStats> streams;
  net::ConnectionCounts connections;       // every client connection
  ClientConnectionCounts by_protocol;
};

std::string label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

class Writer {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  template <typename V>
  void sample(std::string_view name, std::string_view labels, V value) {
    if (labels.empty()) fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    else fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
  }
  template <typename V>
  void one(std::string_view name, std::string_view type, std::string_view help, V value) {
    family(name, type, help);
    sample(name, "", value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string destination_labels(const broker::Destination& d, std::string_view kind) {
  return fmt::format("vhost=\"{}\",{}=\"{}\"", label_value(d.vhost), kind, label_value(d.name));
}

}  // namespace

void add_metrics_routes(Router& r, ApiContext& ctx) {
  r.add(
      "GET", "/metrics",
      [&ctx](const Request&, const std::vector<std::string>&, Reply reply) {
        gather<MetricsPart>(
            ctx,
            [&ctx](ShardId s) {
              MetricsPart p;
              auto& b = ctx.broker.local(s);
              p.shard = b.stats();
              p.queues = b.queue_stats("");
              p.topics = b.topic_stats();
              p.durables = b.durable_stats();
              p.streams = b.streams().stats("");
              p.by_protocol = client_connection_counts(ctx, s);
              const net::ConnectionCounts& st = p.by_protocol.stomp;
              const net::ConnectionCounts& mq = p.by_protocol.mqtt;
              p.connections = {st.open + mq.open, st.opened + mq.opened, st.closed + mq.closed, st.blocked + mq.blocked};
              return p;
            },
            [&ctx, reply](std::vector<MetricsPart> parts) {
              Writer w;
              std::uint64_t connections = 0, opened = 0, closed = 0, blocked = 0, consumers = 0, published = 0, delivered = 0, acked = 0,
                            redelivered = 0, expired = 0, dead = 0, ready = 0, unacked = 0, queues = 0,
                            topics = 0;
              std::int64_t queued_bytes = 0, destinations_bytes = 0;
              std::uint64_t stomp_connections = 0, mqtt_connections = 0;
              for (const auto& p : parts) {
                stomp_connections += p.by_protocol.stomp.open;
                mqtt_connections += p.by_protocol.mqtt.open;
                connections += p.connections.open;
                opened += p.connections.opened;
                closed += p.connections.closed;
                blocked += p.connections.blocked;
                consumers += p.shard.consumers;
                published += p.shard.published;
                delivered += p.shard.totals.dequeued;
                acked += p.shard.totals.acked;
                redelivered += p.shard.totals.redelivered;
                expired += p.shard.totals.expired;
                dead += p.shard.totals.dead_lettered;
                ready += p.shard.ready;
                unacked += p.shard.unacked;
                queues += p.shard.queues;
                topics += p.shard.topics;
                queued_bytes += p.shard.memory_used;
                destinations_bytes += p.shard.memory_overhead;
              }
              const auto& o = ctx.options;
              w.one("ferry_up", "gauge", "1 while the broker runs.", 1);
              // As rabbitmq_build_info / rabbitmq_identity_info: constant 1,
              // the facts in labels (dashboards join on them).
              w.family("ferry_build_info", "gauge", "Ferry's version (label); always 1.");
              w.sample("ferry_build_info", fmt::format("version=\"{}\"", label_value(kVersion)), 1);
              w.family("ferry_identity_info", "gauge", "This node's name (label); always 1.");
              w.sample("ferry_identity_info", fmt::format("node=\"{}\"", label_value(node_name())), 1);
              const ProcessStats proc = process_stats();
              w.one("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.",
                    proc.cpu_seconds);
              w.one("process_open_fds", "gauge", "Open file descriptors.", proc.open_fds);
              w.one("process_max_fds", "gauge", "Maximum number of open file descriptors.", proc.max_fds);
              w.one("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", proc.virtual_bytes);
              w.one("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                    proc.resident_bytes);
              w.one("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.",
                    proc.start_time_seconds);
              w.one("ferry_uptime_seconds", "gauge", "Seconds since the broker started.",
                    static_cast<double>(mono_ms() - ctx.started_mono_ms) / 1000.0);
              w.one("ferry_shards", "gauge", "Event loops (threads).", ctx.shards.shard_count());
              w.one("ferry_connections", "gauge", "Open client connections (STOMP and MQTT).", connections);
              // As RabbitMQ labels its per-protocol figures.
              w.family("ferry_connections_by_protocol", "gauge", "Open client connections by protocol.");
              w.sample("ferry_connections_by_protocol", "protocol=\"stomp\"", stomp_connections);
              w.sample("ferry_connections_by_protocol", "protocol=\"mqtt\"", mqtt_connections);
              w.one("ferry_connections_opened_total", "counter", "Client connections accepted since start.", opened);
              w.one("ferry_connections_closed_total", "counter", "Client connections closed since start.", closed);
              w.one("ferry_connections_blocked", "gauge",
                    "Connections held by flow control now (not read: producer window full, publishes parked, "
                    "output backed up).",
                    blocked);
              w.one("ferry_consumers", "gauge", "Subscriptions consuming from queues and topics.", consumers);
              w.one("ferry_queues", "gauge", "Queues that exist now.", queues);
              w.one("ferry_topics", "gauge", "Topics that exist now.", topics);
              w.one("ferry_messages_ready", "gauge", "Messages waiting for a consumer (queues and subscriptions).", ready);
              w.one("ferry_messages_unacked", "gauge", "Messages delivered and not yet acknowledged.", unacked);
              w.one("ferry_messages_published_total", "counter", "Messages accepted from producers.", published);
              w.one("ferry_messages_delivered_total", "counter", "Messages handed to consumers.", delivered);
              w.one("ferry_messages_acked_total", "counter", "Deliveries acknowledged by client-ack consumers.", acked);
              w.one("ferry_messages_redelivered_total", "counter", "Deliveries of messages delivered before.", redelivered);
              w.one("ferry_messages_expired_total", "counter", "Messages dropped at their expiry time.", expired);
              w.one("ferry_messages_dead_lettered_total", "counter", "Messages moved to a dead-letter queue.", dead);
              w.one("ferry_memory_rss_bytes", "gauge", "Resident memory of the broker process.", resident_bytes());
              w.one("ferry_memory_queued_bytes", "gauge", "Bytes of queued messages held in memory.", queued_bytes);
              w.one("ferry_memory_destinations_bytes", "gauge",
                    "Estimated bytes of the queues, topics and subscriptions themselves (counted against memory-limit).",
                    destinations_bytes);
              w.one("ferry_memory_limit_bytes", "gauge", "memory-limit.", o.memory_limit);
              w.one("ferry_disk_limit_bytes", "gauge", "disk-limit (0 = none).", o.disk_limit);
              w.one("ferry_disk_free_bytes", "gauge", "Free bytes on the file system of data-dir.",
                    free_disk_bytes(ctx.data_dir));
              if (ctx.journal != nullptr) {
                w.one("ferry_journal_bytes", "gauge", "Bytes of journal segments on disk.", ctx.journal->disk_bytes());
                w.one("ferry_journal_segments", "gauge", "Journal segment files on disk.", ctx.journal->segment_count());
                const store::FsyncHistogram h = ctx.journal->fsync_latency();
                w.family("ferry_journal_fsync_seconds", "histogram", "Latency of journal fdatasync calls.");
                std::uint64_t cumulative = 0;
                for (std::size_t i = 0; i < store::kFsyncBuckets.size(); ++i) {
                  cumulative += h.counts[i];
                  w.sample("ferry_journal_fsync_seconds_bucket", fmt::format("le=\"{}\"", store::kFsyncBuckets[i]),
                           cumulative);
                }
                w.sample("ferry_journal_fsync_seconds_bucket", "le=\"+Inf\"", h.count);
                w.sample("ferry_journal_fsync_seconds_sum", "", h.sum_seconds);
                w.sample("ferry_journal_fsync_seconds_count", "", h.count);
              }

              if (ctx.cluster != nullptr) {  // docs/cluster.md; absent on a single broker
                const cluster::ClusterView v = ctx.cluster->view();
                w.one("ferry_cluster_members", "gauge", "Brokers registered in the cluster, as this broker last read.",
                      v.members.size());
                w.one("ferry_cluster_is_controller", "gauge", "1 while this broker is the cluster's controller.",
                      v.is_controller ? 1 : 0);
                w.one("ferry_cluster_controller_epoch", "gauge", "The controller's epoch, as this broker last read.",
                      v.controller_epoch);
                w.one("ferry_cluster_coordination_ok", "gauge",
                      "1 while this broker's etcd lease is provably valid (coordination ok or renewing).",
                      v.coordination == cluster::Coordination::kOk ||
                              v.coordination == cluster::Coordination::kRenewing
                          ? 1
                          : 0);
              }

              std::vector<std::pair<std::string, const broker::QueueStats*>> qs;
              for (const auto& p : parts)
                for (const auto& q : p.queues) qs.emplace_back(destination_labels(q.destination, "queue"), &q);
              std::sort(qs.begin(), qs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
              auto per_queue = [&](std::string_view name, std::string_view type, std::string_view help,
                                   auto value) {
                w.family(name, type, help);
                for (const auto& [labels, q] : qs) w.sample(name, labels, value(*q));
              };
              using Q = broker::QueueStats;
              per_queue("ferry_queue_messages_ready", "gauge", "Messages waiting in the queue.",
                        [](const Q& q) { return q.ready; });
              per_queue("ferry_queue_messages_unacked", "gauge", "Messages of the queue delivered, not yet acknowledged.",
                        [](const Q& q) { return q.unacked; });
              per_queue("ferry_queue_depth", "gauge", "Messages in the queue (ready + unacked).",
                        [](const Q& q) { return q.ready + q.unacked; });
              per_queue("ferry_queue_consumers", "gauge", "Consumers of the queue.",
                        [](const Q& q) { return q.consumers; });
              per_queue("ferry_queue_enqueued_total", "counter", "Messages that entered the queue.",
                        [](const Q& q) { return q.counters.enqueued; });
              per_queue("ferry_queue_dequeued_total", "counter", "Messages the queue handed to consumers.",
                        [](const Q& q) { return q.counters.dequeued; });
              per_queue("ferry_queue_acked_total", "counter", "Deliveries of the queue acknowledged.",
                        [](const Q& q) { return q.counters.acked; });
              per_queue("ferry_queue_redelivered_total", "counter", "Redeliveries from the queue.",
                        [](const Q& q) { return q.counters.redelivered; });
              per_queue("ferry_queue_expired_total", "counter", "Messages of the queue dropped at expiry.",
                        [](const Q& q) { return q.counters.expired; });
              per_queue("ferry_queue_dead_lettered_total", "counter", "Messages moved from the queue to its dead-letter queue.",
                        [](const Q& q) { return q.counters.dead_lettered; });

              std::vector<std::pair<std::string, const broker::TopicStats*>> ts;
              for (const auto& p : parts)
                for (const auto& t : p.topics) ts.emplace_back(destination_labels(t.destination, "topic"), &t);
              std::sort(ts.begin(), ts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
              w.family("ferry_topic_published_total", "counter", "Messages published to the topic.");
              for (const auto& [labels, t] : ts) w.sample("ferry_topic_published_total", labels, t->published);
              w.family("ferry_topic_subscribers", "gauge", "Subscribers of the topic now.");
              for (const auto& [labels, t] : ts) w.sample("ferry_topic_subscribers", labels, t->subscribers);
              w.family("ferry_topic_durable_subscriptions", "gauge", "Durable subscriptions of the topic.");
              for (const auto& [labels, t] : ts)
                w.sample("ferry_topic_durable_subscriptions", labels, t->durable_subscriptions);

              // Each durable subscription, attached or away: the backlog an
              // away subscriber will find (docs/metrics.md).
              std::vector<std::pair<std::string, const broker::DurableStats*>> ds;
              for (const auto& p : parts)
                for (const auto& d : p.durables)
                  ds.emplace_back(fmt::format("{},subscription=\"{}\"", destination_labels(d.topic, "topic"),
                                              label_value(d.name)),
                                  &d);
              std::sort(ds.begin(), ds.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
              w.family("ferry_durable_subscription_messages_ready", "gauge",
                       "Messages waiting for the durable subscription (its backlog while away).");
              for (const auto& [labels, d] : ds) w.sample("ferry_durable_subscription_messages_ready", labels, d->ready);
              w.family("ferry_durable_subscription_messages_unacked", "gauge",
                       "Messages of the durable subscription delivered, not yet acknowledged.");
              for (const auto& [labels, d] : ds)
                w.sample("ferry_durable_subscription_messages_unacked", labels, d->unacked);
              w.family("ferry_durable_subscription_attached", "gauge", "1 while a consumer is subscribed to it.");
              for (const auto& [labels, d] : ds)
                w.sample("ferry_durable_subscription_attached", labels, d->attached ? 1 : 0);

              // Streams and their consumer groups (docs/streams.md "In the
              // management API and metrics").
              std::vector<std::pair<std::string, const broker::StreamStats*>> ss;
              for (const auto& p : parts)
                for (const auto& st : p.streams) ss.emplace_back(destination_labels(st.destination, "stream"), &st);
              std::sort(ss.begin(), ss.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
              w.family("ferry_stream_messages", "gauge", "Entries the stream keeps (end offset - first offset).");
              for (const auto& [labels, st] : ss)
                w.sample("ferry_stream_messages", labels, st->end_offset - st->first_offset);
              w.family("ferry_stream_end_offset", "gauge", "The stream's end offset (entries ever appended).");
              for (const auto& [labels, st] : ss) w.sample("ferry_stream_end_offset", labels, st->end_offset);
              w.family("ferry_stream_segments", "gauge", "Segment files of the stream.");
              for (const auto& [labels, st] : ss) w.sample("ferry_stream_segments", labels, st->segments);
              w.family("ferry_stream_disk_bytes", "gauge", "Bytes of the stream's segment files.");
              for (const auto& [labels, st] : ss) w.sample("ferry_stream_disk_bytes", labels, st->disk_bytes);
              w.family("ferry_stream_consumers", "gauge", "Readers of the stream, group members included.");
              for (const auto& [labels, st] : ss) w.sample("ferry_stream_consumers", labels, st->consumers);
              w.family("ferry_stream_group_committed_offset", "gauge",
                       "The consumer group's committed offset (the next entry it reads).");
              for (const auto& [labels, st] : ss)
                for (const auto& g : st->groups)
                  if (g.committed)
                    w.sample("ferry_stream_group_committed_offset",
                             fmt::format("{},group=\"{}\"", labels, label_value(g.name)), *g.committed);
              w.family("ferry_stream_group_lag", "gauge",
                       "Entries kept that the consumer group has not committed yet.");
              for (const auto& [labels, st] : ss)
                for (const auto& g : st->groups)
                  if (g.committed) {
                    const std::uint64_t from = std::max(*g.committed, st->first_offset);
                    w.sample("ferry_stream_group_lag", fmt::format("{},group=\"{}\"", labels, label_value(g.name)),
                             st->end_offset > from ? st->end_offset - from : 0);
                  }

              Response res;
              res.content_type = "text/plain; version=0.0.4; charset=utf-8";
              res.body = w.take();
              reply(std::move(res));
            });
      },
      Router::Access::kOpen);
}

}  // namespace ferry::http
