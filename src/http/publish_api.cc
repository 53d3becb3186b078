// POST /api/exchanges/{vhost}/{exchange}/publish: RabbitMQ's management
// publish (rabbitmqadmin publish, scripts), routed as a SEND to
// /exchange/NAME/KEY is (the default exchange: straight to the queue), and
// POST /api/queues/{vhost}/{name}/get, its counterpart (docs/management.md).
// Meant for tests and operators, as in RabbitMQ, not for throughput.
#include <charconv>

#include "common/clock.h"
#include "common/utf8.h"
#include "broker/exchanges.h"
#include "http/api.h"
#include "http/base64.h"
#include "http/json.h"

namespace ferry::http {

namespace {

constexpr std::size_t kMaxGet = 1000;

// RabbitMQ's AMQP basic properties as its STOMP plugin names them in
// headers, so a STOMP consumer sees what rabbitmqadmin set.
constexpr std::pair<const char*, const char*> kPropertyHeaders[] = {
    {"content_type", "content-type"},   {"content_encoding", "content-encoding"},
    {"correlation_id", "correlation-id"}, {"reply_to", "reply-to"},
    {"message_id", "amqp-message-id"},  {"type", "type"},
    {"app_id", "app-id"},               {"user_id", "user-id"},
    {"timestamp", "timestamp"},
};

// A whole number given as a JSON number or, as rabbitmqadmin sends them, a
// decimal string.
std::optional<std::uint64_t> whole_number(const Json& v) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (!v.is_string()) return std::nullopt;
  const auto& t = v.get_ref<const std::string&>();
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
  if (t.empty() || ec != std::errc() || p != t.data() + t.size()) return std::nullopt;
  return n;
}

std::string scalar_text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// The message a publish body describes, or why it is not one.
Result<broker::MessageRef> message_of(const Json& body, MessageId id, const broker::Destination& d) {
  if (!body.contains("payload") || !body["payload"].is_string())
    return failure("payload: a string is required");
  const std::string encoding = body.value("payload_encoding", "string");
  std::string payload = body["payload"].get<std::string>();
  if (encoding == "base64") {
    auto raw = base64_decode(payload);
    if (!raw) return failure("payload: not valid base64");
    payload = std::move(*raw);
  } else if (encoding != "string") {
    return failure("payload_encoding must be \"string\" or \"base64\"");
  }
  const Json props = body.value("properties", Json::object());
  if (!props.is_object()) return failure("properties: an object is expected");

  broker::MessageRef ref = broker::make_message();
  broker::Message& m = ref.writable();
  m.id = id;
  m.id_text = "ID:ferry-0-" + std::to_string(id.value & ((1ull << 56) - 1));
  m.destination = d.to_string();
  m.body = std::move(payload);
  if (auto h = props.find("headers"); h != props.end()) {
    if (!h->is_object()) return failure("properties.headers: an object is expected");
    for (const auto& [k, v] : h->items()) {
      if (k.empty() || k == "destination" || k == "message-id" || k == "content-length")
        return failure("properties.headers: '" + k + "' cannot be set");
      m.headers.emplace_back(k, scalar_text(v));
    }
  }
  for (const auto& [prop, header] : kPropertyHeaders)
    if (auto v = props.find(prop); v != props.end() && !v->is_null()) m.headers.emplace_back(header, scalar_text(*v));
  if (auto v = props.find("delivery_mode"); v != props.end()) {
    const auto mode = whole_number(*v);
    if (mode != 1u && mode != 2u) return failure("properties.delivery_mode must be 1 or 2");
    m.persistent = mode == 2u;
    m.headers.emplace_back("persistent", m.persistent ? "true" : "false");
  }
  if (auto v = props.find("priority"); v != props.end()) {
    const auto priority = whole_number(*v);
    if (!priority || *priority > 255) return failure("properties.priority must be 0 to 255");
    m.priority = static_cast<std::uint8_t>(std::min<std::uint64_t>(9, *priority));
    m.headers.emplace_back("priority", std::to_string(m.priority));
  }
  if (auto v = props.find("expiration"); v != props.end()) {
    // RabbitMQ's per-message TTL: milliseconds, as a string.
    const std::string text = scalar_text(*v);
    std::int64_t ttl = -1;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), ttl);
    if (ec != std::errc() || p != text.data() + text.size() || ttl < 0)
      return failure("properties.expiration must be a whole number of milliseconds");
    m.expires_ms = wall_ms() + ttl;
    m.headers.emplace_back("expires", std::to_string(m.expires_ms));
  }
  return ref;
}

Json got_json(const broker::BrowsedMessage& m, const broker::Destination& d, std::size_t remaining,
              bool base64, std::optional<std::size_t> truncate) {
  std::string payload = m.body;
  if (truncate && payload.size() > *truncate) payload.resize(*truncate);
  const bool text = !base64 && valid_utf8(payload) && payload.find('\0') == std::string::npos;
  Json headers = Json::object();
  for (const auto& [k, v] : m.headers)
    if (!headers.contains(k)) headers[k] = v;
  return Json{
      {"payload_bytes", m.body.size()},
      {"redelivered", m.redelivered},
      {"exchange", ""},
      {"routing_key", d.name},
      {"message_count", remaining},
      {"properties",
       {{"message_id", m.message_id},
        {"delivery_mode", m.persistent ? 2 : 1},
        {"priority", m.priority},
        {"timestamp", m.timestamp_ms / 1000},
        {"headers", headers}}},
      {"payload", text ? payload : base64_encode(payload)},
      {"payload_encoding", text ? "string" : "base64"},
  };
}

std::optional<broker::Destination> queue_named(const std::string& vhost, const std::string& name) {
  if (vhost.empty() || name.empty() || name.size() > 1024) return std::nullopt;
  for (char c : name)
    if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;
  return broker::Destination{broker::DestinationKind::kQueue, name, vhost};
}

}  // namespace

void add_publish_routes(Router& r, ApiContext& ctx) {
  r.add("POST", "/api/exchanges/{vhost}/{exchange}/publish",
        [&ctx](const Request& req, const std::vector<std::string>& cap, Reply reply) {
          const std::string& vhost = cap[0];
          // RabbitMQ names the default exchange "amq.default" in paths.
          const std::string exchange = cap[1] == "amq.default" ? std::string() : cap[1];
          if (ctx.users != nullptr && !ctx.users->store()->has_vhost(vhost))
            return reply(error_response(404, "not_found", "no vhost '" + vhost + "'"));
          Json body = Json::parse(req.body, nullptr, false);
          if (body.is_discarded() || !body.is_object())
            return reply(error_response(400, "bad_request", "expected a JSON object body"));
          if (!body.contains("routing_key") || !body["routing_key"].is_string())
            return reply(error_response(400, "bad_request", "routing_key: a string is required"));
          const std::string key = body["routing_key"].get<std::string>();
          // The default exchange: the routing key names the queue. Others:
          // the queues their bindings lead to, routed here on shard 0's
          // replica as a SEND is on its connection's shard.
          std::vector<broker::Destination> targets;
          bool create = false;
          if (exchange.empty()) {
            if (auto d = queue_named(vhost, key)) targets.push_back(std::move(*d));
          } else {
            // Checked first: an unknown exchange is 404 whatever the body.
            std::vector<std::string_view> queues;
            auto m = message_of(body, MessageId(0), broker::Destination{broker::DestinationKind::kQueue, key, vhost});
            if (!m) return reply(error_response(400, "bad_request", m.error().text()));
            Status routed = ctx.broker.route_exchange(ShardId(0), vhost, exchange, key,
                                                      broker::SendHeaders((*m)->headers), queues);
            if (!routed) {
              const bool missing = routed.error().message.starts_with("no exchange");
              return reply(error_response(missing ? 404 : 403, missing ? "not_found" : "access_refused",
                                          routed.error().text()));
            }
            for (std::string_view q : queues)
              targets.push_back(broker::Destination{broker::DestinationKind::kQueue, std::string(q), vhost});
            create = true;
          }
          // RabbitMQ's /topic/ is amq.topic: its subscribers get it too.
          const bool topic = exchange == "amq.topic" && !key.empty();
          if (targets.empty() && !topic) {
            if (auto m = message_of(body, MessageId(0), broker::Destination{}); !m)
              return reply(error_response(400, "bad_request", m.error().text()));
            return reply(json_ok(Json{{"routed", false}}));
          }
          struct State {
            std::size_t left = 0;
            bool routed = false;
            std::string error;
            Reply reply;
          };
          auto st = std::make_shared<State>();
          st->left = targets.size() + 1;
          st->reply = std::move(reply);
          auto answered = [&ctx, st](Result<bool> r) {
            ctx.broker.post(ShardId(0), [st, r = std::move(r)] {
              if (!r) st->error = r.error().text();
              else st->routed = st->routed || *r;
              if (--st->left != 0) return;
              if (!st->error.empty()) return st->reply(error_response(500, "internal_error", st->error));
              st->reply(json_ok(Json{{"routed", st->routed}}));
            });
          };
          if (topic) {
            broker::Destination t{broker::DestinationKind::kTopic, key, vhost};
            auto m = message_of(body, ctx.broker.next_message_id(ShardId(0)), t);
            if (!m) return st->reply(error_response(400, "bad_request", m.error().text()));
            ctx.broker.publish_internal(t, std::move(*m));
            st->routed = true;
          }
          for (broker::Destination& d : targets) {
            auto m = message_of(body, ctx.broker.next_message_id(ShardId(0)), d);
            if (!m) return st->reply(error_response(400, "bad_request", m.error().text()));
            const ShardId owner = ctx.broker.owner_of(d);
            ctx.broker.post(owner, [&ctx, owner, d = std::move(d), m = std::move(*m), create, answered]() mutable {
              ctx.broker.local(owner).publish_admin(d, std::move(m), create, answered);
            });
          }
          answered(false);  // the count's own +1
        });

  r.add("POST", "/api/queues/{vhost}/{name}/get",
        [&ctx](const Request& req, const std::vector<std::string>& cap, Reply reply) {
          auto d = queue_named(cap[0], cap[1]);
          if (!d) return reply(error_response(400, "bad_request", "invalid queue name"));
          Json body = Json::parse(req.body, nullptr, false);
          if (body.is_discarded() || !body.is_object())
            return reply(error_response(400, "bad_request", "expected a JSON object body"));
          const std::size_t count = whole_number(body.value("count", Json(1))).value_or(0);
          if (count == 0 || count > kMaxGet)
            return reply(error_response(400, "bad_request", "count must be 1 to " + std::to_string(kMaxGet)));
          const std::string ackmode = body.value("ackmode", "");
          bool take = false;
          if (ackmode == "ack_requeue_false" || ackmode == "reject_requeue_false") take = true;
          else if (ackmode != "ack_requeue_true" && ackmode != "reject_requeue_true")
            return reply(error_response(400, "bad_request",
                                        "ackmode must be ack_requeue_true, ack_requeue_false, "
                                        "reject_requeue_true or reject_requeue_false"));
          const std::string encoding = body.value("encoding", "auto");
          if (encoding != "auto" && encoding != "base64")
            return reply(error_response(400, "bad_request", "encoding must be auto or base64"));
          std::optional<std::size_t> truncate;
          if (auto t = body.find("truncate"); t != body.end() && !t->is_null()) {
            truncate = whole_number(*t);
            if (!truncate) return reply(error_response(400, "bad_request", "truncate must be a whole number"));
          }
          const ShardId owner = ctx.broker.owner_of(*d);
          ctx.broker.post(owner, [&ctx, owner, d = *d, count, take, base64 = encoding == "base64", truncate, reply] {
            broker::ShardBroker& b = ctx.broker.local(owner);
            // Requeued ones stay where they are (a browse); the others leave
            // as acknowledged.
            auto msgs = take ? b.take_messages(d, count) : b.browse_queue(d, count);
            std::size_t remaining = 0;
            if (auto s = b.queue_stats(d)) remaining = s->ready;
            Json out = Json::array();
            if (msgs) {
              for (std::size_t i = 0; i < msgs->size(); ++i) {
                const std::size_t left = take ? remaining + (msgs->size() - 1 - i) : remaining - std::min(remaining, i + 1);
                out.push_back(got_json((*msgs)[i], d, left, base64, truncate));
              }
            }
            auto answer = [&ctx, reply, found = msgs.has_value(), d, out = std::move(out)] {
              ctx.broker.post(ShardId(0), [reply, found, d, out] {
                if (!found)
                  return reply(error_response(404, "not_found", "no queue '" + d.name + "' in vhost '" + d.vhost + "'"));
                reply(json_ok(out));
              });
            };
            // Taken ones are gone after a crash too: their ack records first.
            if (take) b.after_journal(std::move(answer));
            else answer();
          });
        });
}

}  // namespace ferry::http
