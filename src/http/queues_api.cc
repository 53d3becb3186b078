// /api/queues: list, show, create, delete, purge, browse, move
// (docs/management.md). Each single-queue operation runs on the queue's
// owning shard.
#include <algorithm>
#include <charconv>
#include <set>
#include <tuple>

#include <spdlog/spdlog.h>

#include "broker/queue_log.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/utf8.h"
#include "http/api.h"
#include "http/base64.h"
#include "http/client_connections.h"
#include "http/consumer_details.h"
#include "http/json.h"
#include "http/overview_history.h"
#include "http/paging.h"
#include "http/process_stats.h"

namespace ferry::http {

namespace {

constexpr std::size_t kMaxBrowse = 1000;
constexpr std::size_t kDefaultBrowse = 20;

// A definition as RabbitMQ writes it: the queue arguments without "x-".
Json policy_definition_json(const broker::QueueArguments& d) {
  Json out = Json::object();
  const Json arguments = d.to_json();  // items() borrows it
  for (const auto& [key, value] : arguments.items()) out[key.substr(2)] = value;
  return out;
}

// Ferry's fields, then RabbitMQ's names for the same facts (rabbitmqadmin,
// dashboards and scripts written for RabbitMQ read those).
Json to_json(const broker::QueueStats& q) {
  const auto& c = q.counters;
  const Json arguments = q.arguments.to_json();
  return Json{
      {"vhost", q.destination.vhost},
      {"name", q.destination.name},
      {"destination", q.destination.to_string()},
      {"durable", q.durable},
      {"depth", q.ready + q.unacked},
      {"ready", q.ready},
      {"unacked", q.unacked},
      {"consumers", q.consumers},
      {"enqueued", c.enqueued},
      {"dequeued", c.dequeued},
      {"acked", c.acked},
      {"redelivered", c.redelivered},
      {"expired", c.expired},
      {"dead_lettered", c.dead_lettered},
      {"rates", {{"in", round_rate(q.rate_in)}, {"out", round_rate(q.rate_out)}}},
      // RabbitMQ's
      {"arguments", arguments},  // the x-arguments it was declared with
      // The policy it follows (null: none), that policy's definition, and
      // what applies: its arguments under the policy (docs/management.md).
      {"policy", q.policy.empty() ? Json(nullptr) : Json(q.policy)},
      {"effective_policy_definition", policy_definition_json(q.policy_definition)},
      {"effective_arguments", q.effective.to_json()},
      {"messages", q.ready + q.unacked},
      {"messages_ready", q.ready},
      {"messages_unacknowledged", q.unacked},
      {"auto_delete", false},
      {"exclusive", false},
      {"type", arguments.value("x-queue-type", "classic")},
      {"state", "running"},
      {"node", node_name()},
      {"message_stats",
       {{"publish", c.enqueued},
        {"publish_details", {{"rate", round_rate(q.rate_in)}}},
        {"deliver_get", c.dequeued},
        {"deliver_get_details", {{"rate", round_rate(q.rate_out)}}},
        {"ack", c.acked},
        {"redeliver", c.redelivered}}},
  };
}

Json to_json(const broker::BrowsedMessage& m) {
  Json headers = Json::object();
  for (const auto& [k, v] : m.headers)
    if (!headers.contains(k)) headers[k] = v;
  const bool text = valid_utf8(m.body) && m.body.find('\0') == std::string::npos;
  return Json{
      {"message_id", m.message_id},
      {"headers", headers},
      {"body", text ? m.body : base64_encode(m.body)},
      {"body_encoding", text ? "utf8" : "base64"},
      {"size", m.body.size()},
      {"redelivered", m.redelivered},
      {"persistent", m.persistent},
      {"priority", m.priority},
      {"timestamp", m.timestamp_ms},
  };
}

// The queue named by a path's {vhost}/{name}; nullopt for an empty name.
std::optional<broker::Destination> queue_of(const std::string& vhost, const std::string& name) {
  if (vhost.empty() || name.empty() || name.size() > 1024) return std::nullopt;
  for (char c : name)
    if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;
  broker::Destination d;
  d.kind = broker::DestinationKind::kQueue;
  d.vhost = vhost;
  d.name = name;
  return d;
}

Response bad_name() { return error_response(400, "bad_request", "invalid queue name"); }
Response in_use(const broker::Destination& d, const std::string& more) {
  return error_response(409, "in_use", "queue " + d.to_string() + " has consumers; it is not deleted" + more);
}
// A DELETE whose deletion could not be made durable: nothing changed.
Response not_deleted(const broker::Destination& d, const std::string& why) {
  return error_response(500, "internal_error", "queue " + d.to_string() + " is not deleted: " + why);
}
Response no_queue(const broker::Destination& d) {
  return error_response(404, "not_found", "no queue " + d.to_string() + " in vhost " + d.vhost);
}

// Runs fn(ShardBroker&) -> T on the queue's owner, then answer(T) on shard 0.
template <typename T, typename Fn, typename Answer>
void on_owner(ApiContext& ctx, const broker::Destination& d, Fn fn, Answer answer) {
  const ShardId owner = ctx.broker.owner_of(d);
  ctx.shards.post(owner, [&ctx, owner, fn = std::move(fn), answer = std::move(answer)]() mutable {
    T result = fn(ctx.broker.local(owner));
    ctx.shards.post(ShardId(0), [answer = std::move(answer), result = std::move(result)]() mutable {
      answer(std::move(result));
    });
  });
}

// As on_owner, and answer(T) waits until the owner's journal records so
// far are durable: for an answer saying messages are gone (their ack
// records), so that a crash after it does not bring them back.
template <typename T, typename Fn, typename Answer>
void on_owner_durably(ApiContext& ctx, const broker::Destination& d, Fn fn, Answer answer) {
  const ShardId owner = ctx.broker.owner_of(d);
  ctx.shards.post(owner, [&ctx, owner, fn = std::move(fn), answer = std::move(answer)]() mutable {
    broker::ShardBroker& b = ctx.broker.local(owner);
    auto result = std::make_shared<T>(fn(b));
    b.after_journal([&ctx, answer = std::move(answer), result]() mutable {
      ctx.shards.post(ShardId(0), [answer = std::move(answer), result]() mutable { answer(std::move(*result)); });
    });
  });
}

// PUT's arguments naming x-queue-type "stream": a stream's arguments (the
// others a stream takes; docs/streams.md "Declared through the management
// API"). nullopt: not a stream declaration.
std::optional<Result<broker::StreamArguments>> stream_declaration(const Json& arguments) {
  if (!arguments.is_object() || !arguments.contains("x-queue-type") || arguments["x-queue-type"] != "stream")
    return std::nullopt;
  broker::StreamArguments a;
  for (const auto& [name, v] : arguments.items()) {
    if (name == "x-queue-type") continue;
    std::string text;
    if (v.is_string()) text = v.get<std::string>();
    else if (v.is_number_unsigned()) text = std::to_string(v.get<std::uint64_t>());
    else text = v.dump();  // refused by set()
    if (Status st = a.set(name, text); !st) return Result<broker::StreamArguments>(st.error());
  }
  return Result<broker::StreamArguments>(std::move(a));
}

// A stream as RabbitMQ lists a stream queue ("type": "stream", messages =
// entries kept), plus its offsets, files and consumer groups
// (docs/streams.md "In the management API").
Json to_json(const broker::StreamStats& s) {
  Json arguments = Json::object();
  arguments["x-queue-type"] = "stream";
  if (s.arguments.max_age) arguments["x-max-age"] = *s.arguments.max_age;
  if (s.arguments.max_length_bytes) arguments["x-max-length-bytes"] = *s.arguments.max_length_bytes;
  if (s.arguments.max_segment_bytes) arguments["x-stream-max-segment-size-bytes"] = *s.arguments.max_segment_bytes;
  if (s.arguments.partitions) arguments["x-stream-partitions"] = *s.arguments.partitions;
  if (s.arguments.cleanup_policy) arguments["x-cleanup-policy"] = *s.arguments.cleanup_policy;
  if (s.arguments.delete_retention_ms) arguments["x-delete-retention-ms"] = *s.arguments.delete_retention_ms;
  Json groups = Json::array();
  for (const auto& g : s.groups) {
    Json j{{"name", g.name}, {"members", g.members}};
    // Lag: entries kept that the group has not consumed yet; null, as
    // Kafka's "-", while it has committed nothing.
    j["committed_offset"] = g.committed ? Json(*g.committed) : Json(nullptr);
    j["lag"] = nullptr;
    if (g.committed) {
      const std::uint64_t from = std::max(*g.committed, s.first_offset);
      j["lag"] = s.end_offset > from ? s.end_offset - from : 0;
    }
    groups.push_back(std::move(j));
  }
  const std::uint64_t messages = s.end_offset - s.first_offset;
  return Json{
      {"vhost", s.destination.vhost},
      {"name", s.destination.name},
      {"destination", s.destination.to_string()},
      {"durable", true},
      // The queue fields the console and `ferry queues` read: every kept
      // entry is ready (a log removes nothing on delivery).
      {"depth", messages},
      {"ready", messages},
      {"unacked", 0},
      {"enqueued", s.end_offset},
      {"dequeued", 0},
      {"acked", 0},
      {"redelivered", 0},
      {"expired", 0},
      {"dead_lettered", 0},
      {"rates", {{"in", 0.0}, {"out", 0.0}}},
      {"type", "stream"},
      {"arguments", arguments},
      {"messages", messages},
      {"messages_ready", messages},
      {"messages_unacknowledged", 0},
      {"consumers", s.consumers},
      {"first_offset", s.first_offset},
      {"end_offset", s.end_offset},
      {"partitions", s.partitions},
      {"segments", s.segments},
      {"disk_bytes", s.disk_bytes},
      {"groups", groups},
      {"auto_delete", false},
      {"exclusive", false},
      {"state", "running"},
      {"node", node_name()},
  };
}

using QueueList = std::vector<broker::QueueStats>;
struct QueuesAndStreams {
  QueueList queues;
  std::vector<broker::StreamStats> streams;
};
using Infos = std::vector<net::ConnectionInfo>;

void list(ApiContext& ctx, std::string vhost, const Request& req, Reply reply) {
  gather<QueuesAndStreams>(
      ctx,
      [&ctx, vhost](ShardId s) {
        return QueuesAndStreams{ctx.broker.local(s).queue_stats(vhost), ctx.broker.local(s).streams().stats(vhost)};
      },
      [reply, req](std::vector<QueuesAndStreams> parts) {
        const VhostFilter& filter = req.vhosts;
        // Queues and streams in one list, by vhost then name (a queue
        // before a stream of the same name).
        std::vector<std::tuple<std::string, std::string, int, Json>> all;
        for (auto& p : parts) {
          for (auto& q : p.queues)
            if (filter.sees(q.destination.vhost))
              all.emplace_back(q.destination.vhost, q.destination.name, 0, to_json(q));
          for (auto& st : p.streams)
            if (filter.sees(st.destination.vhost))
              all.emplace_back(st.destination.vhost, st.destination.name, 1, to_json(st));
        }
        std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
          return std::tie(std::get<0>(a), std::get<1>(a), std::get<2>(a)) <
                 std::tie(std::get<0>(b), std::get<1>(b), std::get<2>(b));
        });
        Json out = Json::array();
        for (auto& q : all) out.push_back(std::move(std::get<3>(q)));
        reply(paged(std::move(out), req));
      });
}

// The queue's history (broker::QueueSample, one minute at 5 s) as
// RabbitMQ's samples in its _details objects, for the ranges asked
// (msg_rates_age/_incr: publish, deliver_get, ack, redeliver;
// lengths_age/_incr: messages, messages_ready, messages_unacknowledged);
// the same range logic and shape as the overview's.
struct HistoryRanges {
  std::optional<SampleRange> msg_rates, lengths;
};

void add_history(Json& j, const broker::QueueStats& q, const HistoryRanges& ranges) {
  OverviewHistory h;
  for (const broker::QueueSample& s : q.history) {
    OverviewSample o;
    o.timestamp_ms = s.timestamp_ms;
    o.publish = s.publish;
    o.deliver_get = s.deliver_get;
    o.ack = s.ack;
    o.redeliver = s.redeliver;
    o.messages_ready = s.messages_ready;
    o.messages_unacknowledged = s.messages_unacknowledged;
    o.messages = s.messages_ready + s.messages_unacknowledged;
    h.record(o);
  }
  // ack and redeliver rates from the newest two samples (the 5 s rates of
  // publish and deliver_get come from the shard's own windows).
  if (auto two = h.newest_two()) {
    const double secs = static_cast<double>(two->first.timestamp_ms - two->second.timestamp_ms) / 1000.0;
    auto rate = [&](SampleField f) {
      return secs > 0 ? round_rate(static_cast<double>(two->first.*f - two->second.*f) / secs) : 0.0;
    };
    j["message_stats"]["ack_details"]["rate"] = rate(&OverviewSample::ack);
    j["message_stats"]["redeliver_details"]["rate"] = rate(&OverviewSample::redeliver);
  }
  const std::int64_t now = wall_ms();
  if (ranges.msg_rates) {
    const auto samples = h.range(now, *ranges.msg_rates);
    add_samples(j["message_stats"]["publish_details"], samples, &OverviewSample::publish);
    add_samples(j["message_stats"]["deliver_get_details"], samples, &OverviewSample::deliver_get);
    add_samples(j["message_stats"]["ack_details"], samples, &OverviewSample::ack);
    add_samples(j["message_stats"]["redeliver_details"], samples, &OverviewSample::redeliver);
  }
  if (ranges.lengths) {
    const auto samples = h.range(now, *ranges.lengths);
    add_samples(j["messages_details"], samples, &OverviewSample::messages);
    add_samples(j["messages_ready_details"], samples, &OverviewSample::messages_ready);
    add_samples(j["messages_unacknowledged_details"], samples, &OverviewSample::messages_unacknowledged);
  }
}

// Answers `q` with RabbitMQ's consumer_details: its consumers joined with
// their connections, asked of the shards those connections live on.
void with_consumers(ApiContext& ctx, broker::QueueStats q, Reply reply, HistoryRanges ranges) {
  std::set<std::uint32_t> shards;
  std::set<std::uint64_t> ids;
  for (const auto& c : q.consumer_list) {
    shards.insert(c.key.shard.value);
    ids.insert(c.key.connection.value);
  }
  auto answer = [q = std::move(q), reply, ranges](std::vector<Infos> parts) {
    Infos connections;
    for (auto& p : parts)
      for (auto& c : p) connections.push_back(std::move(c));
    Json j = to_json(q);
    add_history(j, q, ranges);
    j["consumer_details"] = consumer_details(q.destination, q.consumer_list, connections);
    reply(json_ok(j));
  };
  if (shards.empty()) return answer({});
  gather<Infos>(
      ctx,
      [&ctx, shards, ids](ShardId s) {
        Infos found;
        if (!shards.contains(s.value)) return found;
        for (auto& c : client_connections(ctx, s))
          if (ids.contains(c.id.value)) found.push_back(std::move(c));
        return found;
      },
      std::move(answer));
}

Response no_content() {
  Response r;
  r.status = 204;
  return r;
}

}  // namespace

void add_queue_routes(Router& r, ApiContext& ctx) {
  r.add("GET", "/api/queues", [&ctx](const Request& req, const std::vector<std::string>&, Reply reply) {
    list(ctx, "", req, std::move(reply));
  });
  r.add("GET", "/api/queues/{vhost}", [&ctx](const Request& req, const std::vector<std::string>& cap, Reply reply) {
    list(ctx, cap[0], req, std::move(reply));
  });

  r.add("GET", "/api/queues/{vhost}/{name}",
        [&ctx](const Request& req, const std::vector<std::string>& cap, Reply reply) {
          auto d = queue_of(cap[0], cap[1]);
          if (!d) return reply(bad_name());
          auto msg_range = parse_sample_range(req, "msg_rates");
          if (!msg_range) return reply(error_response(400, "bad_request", msg_range.error().text()));
          auto length_range = parse_sample_range(req, "lengths");
          if (!length_range) return reply(error_response(400, "bad_request", length_range.error().text()));
          on_owner<std::optional<broker::QueueStats>>(
              ctx, *d, [d = *d](broker::ShardBroker& b) { return b.queue_stats(d); },
              [&ctx, reply, d = *d, ranges = HistoryRanges{*msg_range, *length_range}](
                  std::optional<broker::QueueStats> q) {
                if (q) return with_consumers(ctx, std::move(*q), reply, ranges);
                // Not a queue: a stream of that name is shown as the lists
                // show it (RabbitMQ lists and shows stream queues alike).
                const broker::Destination stream{broker::DestinationKind::kStream, d.name, d.vhost};
                on_owner<std::optional<broker::StreamStats>>(
                    ctx, stream,
                    [stream](broker::ShardBroker& b) -> std::optional<broker::StreamStats> {
                      for (auto& s : b.streams().stats(stream.vhost))
                        if (s.destination.name == stream.name) return std::move(s);
                      return std::nullopt;
                    },
                    [reply, d](std::optional<broker::StreamStats> s) {
                      if (!s) return reply(no_queue(d));
                      reply(json_ok(to_json(*s)));
                    });
              });
        });

  // A queue made here is declared: kept while empty, and across restarts
  // (broker::DeclaredQueues, written before the queue exists). A body
  // {"arguments": {...}} gives RabbitMQ's queue arguments: a new queue takes
  // them; an existing one must have the same (400 naming the difference
  // otherwise, nothing changed). Without "arguments" an existing queue is
  // kept as it is.
  r.add("PUT", "/api/queues/{vhost}/{name}",
        [&ctx](const Request& req, const std::vector<std::string>& cap, Reply reply) {
          auto d = queue_of(cap[0], cap[1]);
          if (!d) return reply(bad_name());
          if (ctx.users != nullptr && !ctx.users->store()->has_vhost(d->vhost))
            return reply(error_response(404, "not_found", "no vhost '" + d->vhost + "'"));
          std::optional<broker::QueueArguments> args;
          if (!req.body.empty()) {
            Json body = Json::parse(req.body, nullptr, false);
            if (body.is_discarded() || !body.is_object())
              return reply(error_response(400, "bad_request", "expected a JSON object body ({\"arguments\": {...}})"));
            if (body.contains("arguments")) {
              if (auto stream = stream_declaration(body["arguments"])) {
                if (!*stream) return reply(error_response(400, "bad_request", stream->error().text()));
                // A stream queue, as RabbitMQ declares one: made on its
                // owner (it is not a queue, nor in the declared-queues file).
                const broker::Destination sd{broker::DestinationKind::kStream, d->name, d->vhost};
                return on_owner<Result<bool>>(
                    ctx, sd, [sd, args = **stream](broker::ShardBroker& b) { return b.streams().declare(sd, args); },
                    [reply](Result<bool> made) {
                      if (!made) {
                        const bool limit = made.error().message == "too many streams";
                        return reply(error_response(limit ? 409 : 400, limit ? "limit" : "bad_request",
                                                    made.error().text()));
                      }
                      Response res;
                      res.status = *made ? 201 : 204;
                      reply(std::move(res));
                    });
              }
              auto parsed = broker::QueueArguments::from_json(body["arguments"]);
              if (!parsed) return reply(error_response(400, "bad_request", parsed.error().text()));
              if (Status valid = parsed->validate(); !valid)
                return reply(error_response(400, "bad_request", valid.error().text()));
              args = std::move(*parsed);
            }
          }
          // First the queue as it is (its arguments), so that a refused
          // declaration leaves the declared-queues file alone.
          on_owner<std::optional<broker::QueueStats>>(
              ctx, *d, [d = *d](broker::ShardBroker& b) { return b.queue_stats(d); },
              [&ctx, reply, d = *d, args](std::optional<broker::QueueStats> current) {
                if (current && args)
                  if (auto differs = broker::QueueArguments::mismatch(*args, current->arguments, d))
                    return reply(error_response(400, "bad_request", *differs));
                if (ctx.declared != nullptr) {
                  const broker::QueueArguments& keep = args ? *args : current ? current->arguments : broker::QueueArguments();
                  if (Status added = ctx.declared->add(d.vhost, d.name, keep); !added)
                    return reply(
                        error_response(500, "internal_error", "the queue is not created: " + added.error().text()));
                }
                using Declared = broker::ShardBroker::DeclareResult;
                struct Answer {
                  Declared result;
                  std::string mismatch;
                };
                on_owner<Answer>(
                    ctx, d,
                    [d, args](broker::ShardBroker& b) {
                      Answer a;
                      a.result = b.declare_queue(d, true, args ? &*args : nullptr, &a.mismatch);
                      return a;
                    },
                    [&ctx, reply, d, existed = current.has_value()](Answer a) {
                      if (a.result == Declared::kMismatch) return reply(error_response(400, "bad_request", a.mismatch));
                      if (a.result == Declared::kLimit) {
                        // Not created after all: nor kept across restarts.
                        if (ctx.declared != nullptr && !existed) (void)ctx.declared->remove(d.vhost, d.name);
                        return reply(error_response(
                            409, "limit",
                            "queue limit reached (max-queues " + std::to_string(ctx.options.max_queues) +
                                " in vhost '" + d.vhost + "'); " + d.to_string() + " not created"));
                      }
                      Response res;
                      res.status = a.result == Declared::kExisted ? 204 : 201;
                      reply(std::move(res));
                    });
              });
        });

  // Nothing is half done: the deletion is made durable first (a declared
  // queue leaves declared-queues.json, then the deletion record goes to
  // queues.log) and only then does the owner drop the queue. A failed write
  // answers 500 with the queue still there (and still declared), as
  // RabbitMQ answers an internal error; it does not come back after a
  // restart once it is gone.
  r.add("DELETE", "/api/queues/{vhost}/{name}",
        [&ctx](const Request&, const std::vector<std::string>& cap, Reply reply) {
          auto d = queue_of(cap[0], cap[1]);
          if (!d) return reply(bad_name());
          using Err = broker::ShardBroker::AdminError;
          on_owner<Err>(
              ctx, *d,
              [d = *d](broker::ShardBroker& b) {
                // Missing or consumed: delete_queue says which (and drops
                // the bindings naming it, as always); nothing is recorded.
                auto stats = b.queue_stats(d);
                if (!stats || stats->consumers > 0) return b.delete_queue(d);
                return Err::kNone;  // deletable: recorded first, below
              },
              [&ctx, reply, d = *d](Err e) {
                if (e == Err::kNotFound) {
                  // Not a queue: a stream of that name goes, with its files
                  // (RabbitMQ deletes a stream queue the same way).
                  const broker::Destination sd{broker::DestinationKind::kStream, d.name, d.vhost};
                  return on_owner<Result<bool>>(
                      ctx, sd, [sd](broker::ShardBroker& b) { return b.streams().remove(sd); },
                      [reply, d](Result<bool> removed) {
                        if (!removed) {
                          const bool in_use = removed.error().message == "stream in use";
                          return reply(error_response(in_use ? 409 : 500, in_use ? "in_use" : "internal_error",
                                                      removed.error().text()));
                        }
                        if (!*removed) return reply(no_queue(d));
                        reply(no_content());
                      });
                }
                if (e == Err::kInUse) return reply(in_use(d, ""));
                // Its declaration first (on this shard), kept to put back if
                // the queue stays after all.
                std::optional<broker::QueueArguments> undeclared;
                if (ctx.declared != nullptr && ctx.declared->entries().count({d.vhost, d.name}) > 0) {
                  broker::QueueArguments args = ctx.declared->arguments_of({d.vhost, d.name});
                  if (Status removed = ctx.declared->remove(d.vhost, d.name); !removed)
                    return reply(not_deleted(d, removed.error().text()));
                  undeclared = std::move(args);
                }
                // Put back what stays: its declaration (shard 0).
                auto stays = [&ctx, d, undeclared]() -> std::string {
                  if (!undeclared) return {};
                  if (Status back = ctx.declared->add(d.vhost, d.name, *undeclared); !back) {
                    spdlog::error("queue {} stays, but is no longer declared (gone after a restart if empty): {}",
                                  log_safe(d.to_string()), log_safe(back.error().text()));
                    return "; it is no longer in declared-queues.json: " + back.error().text();
                  }
                  return {};
                };
                const ShardId owner = ctx.broker.owner_of(d);
                auto drop = [&ctx, reply, d, owner, stays] {
                  ctx.broker.post(owner, [&ctx, reply, d, owner, stays] {
                    broker::ShardBroker& b = ctx.broker.local(owner);
                    const Err now = b.delete_queue(d);
                    broker::QueueLog* log = ctx.broker.queue_log();
                    // A consumer came while the record was written: the
                    // queue stays, and its creation is recorded again
                    // (after the deletion, so it wins at start-up).
                    if (now == Err::kInUse && log != nullptr) log->created(d.vhost, d.name, {});
                    // Gone means gone after a kill -9 too: the answer waits
                    // for its messages' ack records.
                    b.after_journal([&ctx, reply, d, now, stays] {
                      ctx.broker.post(ShardId(0), [reply, d, now, stays] {
                        if (now == Err::kInUse) return reply(in_use(d, stays()));
                        reply(no_content());  // deleted now, or gone meanwhile (x-expires)
                      });
                    });
                  });
                };
                broker::QueueLog* log = ctx.broker.queue_log();
                if (log == nullptr || broker::is_temporary_queue(d)) return drop();
                // delete_queue appends a deletion record of its own after
                // this one: a duplicate, harmless (start-up folds both away).
                log->deleted(d.vhost, d.name, [&ctx, reply, d, stays, drop](const Status& written) {
                  if (written) return drop();
                  ctx.broker.post(ShardId(0), [reply, d, stays, written] {
                    const std::string undo = stays();
                    reply(not_deleted(d, "its deletion could not be recorded (" + written.error().text() + ")" + undo));
                  });
                });
              });
        });

  r.add("DELETE", "/api/queues/{vhost}/{name}/contents",
        [&ctx](const Request&, const std::vector<std::string>& cap, Reply reply) {
          auto d = queue_of(cap[0], cap[1]);
          if (!d) return reply(bad_name());
          on_owner_durably<std::optional<std::size_t>>(
              ctx, *d, [d = *d](broker::ShardBroker& b) { return b.purge_queue(d); },
              [reply, d = *d](std::optional<std::size_t> n) {
                reply(n ? json_ok(Json{{"purged", *n}}) : no_queue(d));
              });
        });

  r.add("GET", "/api/queues/{vhost}/{name}/messages",
        [&ctx](const Request& req, const std::vector<std::string>& cap, Reply reply) {
          auto d = queue_of(cap[0], cap[1]);
          if (!d) return reply(bad_name());
          std::size_t count = kDefaultBrowse;
          if (auto c = req.param("count")) {
            auto [p, ec] = std::from_chars(c->data(), c->data() + c->size(), count);
            if (ec != std::errc() || p != c->data() + c->size() || count == 0 || count > kMaxBrowse)
              return reply(error_response(400, "bad_request", "count must be 1 to 1000"));
          }
          on_owner<std::optional<std::vector<broker::BrowsedMessage>>>(
              ctx, *d, [d = *d, count](broker::ShardBroker& b) { return b.browse_queue(d, count); },
              [reply, d = *d](std::optional<std::vector<broker::BrowsedMessage>> msgs) {
                if (!msgs) return reply(no_queue(d));
                Json out = Json::array();
                for (const auto& m : *msgs) out.push_back(to_json(m));
                reply(json_ok(out));
              });
        });

  r.add("POST", "/api/queues/{vhost}/{name}/move",
        [&ctx](const Request& req, const std::vector<std::string>& cap, Reply reply) {
          auto from = queue_of(cap[0], cap[1]);
          if (!from) return reply(bad_name());
          Json body = Json::parse(req.body, nullptr, false);
          if (body.is_discarded() || !body.is_object() || !body.contains("to") || !body["to"].is_string())
            return reply(error_response(400, "bad_request", "expected a JSON body {\"to\": \"QUEUE\", \"count\": N}"));
          std::string to_name = body["to"].get<std::string>();
          if (to_name.starts_with("/queue/")) to_name = to_name.substr(7);
          auto to = queue_of(cap[0], to_name);
          if (!to) return reply(error_response(400, "bad_request", "invalid target queue name"));
          if (*to == *from) return reply(error_response(400, "bad_request", "source and target are the same queue"));
          std::size_t count = SIZE_MAX;
          if (body.contains("count")) {
            if (!body["count"].is_number_unsigned() || body["count"].get<std::uint64_t>() == 0)
              return reply(error_response(400, "bad_request", "count must be a positive whole number"));
            count = body["count"].get<std::uint64_t>();
          }
          const ShardId owner = ctx.broker.owner_of(*from);
          ctx.shards.post(owner, [&ctx, owner, from = *from, to = *to, count, reply]() mutable {
            ctx.broker.local(owner).move_messages(
                from, to, count, [&ctx, from, reply = std::move(reply)](std::optional<std::size_t> n) mutable {
                  ctx.shards.post(ShardId(0), [reply = std::move(reply), n, from] {
                    reply(n ? json_ok(Json{{"moved", *n}}) : no_queue(from));
                  });
                });
          });
        });
}

}  // namespace ferry::http
