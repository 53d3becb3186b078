#include "session/stomp_session.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <tuple>
#include <unordered_set>

#include "broker/destination_pattern.h"
#include "broker/shard_broker.h"
#include "broker/topic_patterns.h"
#include "broker/virtual_topic.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "net/output_queue.h"
#include "selector/selector.h"
#include "session/composite_destination.h"
#include "session/errors.h"
#include "session/temp_queues.h"
#include "stomp/boolean.h"
#include "stomp/encoder.h"
#include "stomp/salvage.h"

namespace ferry::session {

using broker::AckMode;
using broker::DeliverySeqs;
using broker::SettleAction;
using stomp::Command;
using stomp::Encoder;

namespace {

template <typename T>
std::optional<T> parse_int(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Headers of a SEND that describe the SEND itself, or that the broker sets
// on MESSAGE; never copied into the stored message.
bool is_command_header(std::string_view name) {
  static constexpr std::string_view kDropped[] = {
      "destination", "receipt", "transaction", "content-length", "message-id",
      "subscription", "ack", "redelivered", "x-delivery-count", "persistent"};
  return std::find(std::begin(kDropped), std::end(kDropped), name) != std::end(kDropped);
}

// The boolean headers a SUBSCRIBE may carry in the dialects Ferry speaks
// (RabbitMQ, ActiveMQ, Artemis, Apollo). Each is checked to be a boolean
// even where Ferry ignores it, so that a typo is an ERROR, not a surprise.
constexpr std::string_view kSubscribeBooleans[] = {
    "durable", "persistent", "auto-delete", "exclusive", "browser", "no-local",
    "activemq.exclusive", "activemq.retroactive", "activemq.noLocal", "activemq.dispatchAsync"};

}  // namespace

net::ProtocolFactory stomp_protocol(const StompContext& context) {
  net::ProtocolFactory f;
  f.make = [context](net::Transport& transport, ShardId shard, ConnectionId id) -> std::unique_ptr<net::Protocol> {
    return std::make_unique<StompSession>(context, transport, shard, id);
  };
  f.refusal = [](std::string_view reason) {
    std::string reply;
    Encoder::begin_frame(reply, Command::kError);
    Encoder::add_header(reply, "message", reason, stomp::Version::k1_0, Command::kError);
    Encoder::end_headers(reply, 0, false);
    Encoder::end_frame(reply);
    return reply;
  };
  f.max_unit_size = context.options.limits.max_frame_size;
  return f;
}

StompSession::StompSession(const StompContext& context, net::Transport& transport, ShardId shard, ConnectionId id)
    : options_(context.options),
      broker_(context.broker),
      clients_(context.clients),
      authenticator_(context.authenticator),
      transport_(transport),
      shard_(shard),
      id_(id),
      parser_(context.options.limits),
      login_(context.authenticator),
      receipts_(*this, context.options.producer_window_size),
      transactions_(context.options.max_transactions, context.options.max_transaction_size),
      destinations_(context.options.default_destination_kind),
      temp_queues_(context.options.max_subscriptions, "/temp-queue/"),
      temp_topics_(context.options.max_subscriptions, "/temp-topic/"),
      connected_at_ms_(wall_ms()) {
  clients_.add(shard_, id_, *this);
}

StompSession::~StompSession() {
  // A closed session let go of both already (on_closed), and may outlive
  // them: a connection closed normally stays alive while handlers queued on
  // its loop hold it, and at shutdown those go only with the loop.
  if (released_) return;
  clients_.remove(shard_, id_);
  login_.release_client_id(broker_.client_ids(), shard_, id_);
}

// ---------------------------------------------------------------- frames in

std::size_t StompSession::on_bytes(std::span<char> bytes) {
  std::size_t begin = 0;
  std::size_t parsed = 0;
  yielded_ = false;
  stomp::Frame frame;
  // A CONNECT being checked holds the frames after it (unparsed) until the
  // login is decided.
  while (!closing_ && !holding() && begin < bytes.size()) {
    std::span<char> data = bytes.subspan(begin);
    auto r = parser_.next(data, frame);
    begin += r.consumed;
    if (r.status == stomp::Parser::Status::kNeedMore) {
      if (r.consumed == 0) break;
      continue;
    }
    if (r.status == stomp::Parser::Status::kError) {
      on_parse_error(r.error, stomp::salvage_receipt(data));
      break;
    }
    on_frame(frame);
    // Fairness: at most kUnitsPerTurn a call; the connection offers the
    // rest in a later turn of the loop (see net::Protocol::yielded).
    if (++parsed == kUnitsPerTurn && begin < bytes.size() && !closing_) {
      yielded_ = true;
      break;
    }
  }
  return begin;
}

void StompSession::on_frame(const stomp::Frame& f) {
  if (closing_ || disconnecting_) return;
  if (!connected_) {
    if (f.command == Command::kConnect || f.command == Command::kStomp) {
      handle_connect(f);
    } else {
      fail(errors::kNotConnected, {}, f.get("receipt"));
    }
    return;
  }
  switch (f.command) {
    case Command::kConnect:
    case Command::kStomp: fail(errors::kAlreadyConnected, {}, f.get("receipt")); return;
    case Command::kSend: handle_send(f); return;
    case Command::kSubscribe: handle_subscribe(f); return;
    case Command::kUnsubscribe: handle_unsubscribe(f); return;
    case Command::kAck: handle_ack(f, true); return;
    case Command::kNack: handle_ack(f, false); return;
    case Command::kBegin: handle_begin(f); return;
    case Command::kCommit: handle_commit(f); return;
    case Command::kAbort: handle_abort(f); return;
    case Command::kDisconnect: handle_disconnect(f); return;
    case Command::kConnected:
    case Command::kMessage:
    case Command::kReceipt:
    case Command::kError:
      fail(errors::kServerFrame, fmt::format("{} is sent by servers only", stomp::to_string(f.command)),
           f.get("receipt"));
      return;
  }
}

void StompSession::on_parse_error(stomp::ParseError e, std::optional<std::string_view> receipt) {
  fail(stomp::describe(e), {}, receipt);
}

bool StompSession::permitted(auth::Access a, const broker::Destination& d, std::optional<std::string_view> receipt) {
  Status allowed = login_.check(a, d);
  if (!allowed) fail(allowed.error(), receipt);
  return allowed.ok();
}

bool StompSession::permitted(auth::Access a, std::string_view resource, std::optional<std::string_view> receipt) {
  Status allowed = login_.check(a, resource);
  if (!allowed) fail(allowed.error(), receipt);
  return allowed.ok();
}

std::optional<StompSession::ExchangeAddress> StompSession::exchange_address(const stomp::Frame& f) {
  static constexpr std::string_view kPrefix = "/exchange/";
  auto text = f.get("destination");
  if (!text || !text->starts_with(kPrefix)) return std::nullopt;
  std::string_view rest = text->substr(kPrefix.size());
  const auto slash = rest.find('/');
  ExchangeAddress a;
  a.exchange = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) a.key = std::string(rest.substr(slash + 1));
  if (a.exchange == "amq.topic" && !a.key.empty()) return std::nullopt;  // /topic/KEY
  a.text = std::string(*text);
  return a;
}

void StompSession::fail_exchange(const Error& e, std::optional<std::string_view> receipt) {
  // RabbitMQ's channel errors: code in `message`, "CODE - text" in the body.
  const std::string& text = e.message;
  if (text.starts_with("no ")) return fail(errors::kNotFound, "NOT_FOUND - " + text, receipt);
  if (text.starts_with("cannot publish to internal"))
    return fail(errors::kExchangeAccessRefused, "ACCESS_REFUSED - " + text, receipt);
  fail(text, e.detail, receipt);
}

void StompSession::drop_exchange_queue(const Subscription& s) {
  broker::ExchangeChange c;
  c.kind = broker::ExchangeChange::Kind::kRemoveQueue;
  c.vhost = s.destination.vhost;
  c.destination = broker::BindingDestination::queue(s.destination.name);
  broker_.change_exchanges(shard_, std::move(c), {});
  broker_.drop_temporary_queue(s.destination);
}

broker::MessageRef StompSession::build_message(const stomp::Frame& f, const broker::Destination& d) {
  broker::MessageRef ref = broker::make_message_with_header_slots(f.headers.size());
  broker::Message* m = &ref.writable();
  m->id = broker_.next_message_id(shard_);
  m->origin = id_;
  char id[48] = "ID:ferry-";
  // Two numbers of at most 20 digits each fit; the bound check only tells
  // the compiler so (it cannot see that to_chars leaves room).
  char* end = std::to_chars(id + 9, id + sizeof id - 22, shard_.value).ptr;
  if (end < id + sizeof id) *end++ = '-';
  end = std::to_chars(end, id + sizeof id, m->id.value & ((1ull << 56) - 1)).ptr;
  m->id_text.assign(id, end);
  d.to_string(m->destination);
  m->body.assign(f.body.data(), f.body.size());
  // First occurrence wins: later repeats are not part of the message. A set
  // keeps this linear for frames with many headers (max-headers can be
  // raised to 100,000; a scan per header would be quadratic). The header
  // slots reuse an earlier message's strings; those used are [0, kept).
  std::unordered_set<std::string_view> seen;
  const bool use_set = f.headers.size() > 32;
  if (use_set) seen.reserve(f.headers.size());
  std::size_t kept = 0;
  auto kept_already = [&](std::string_view name) {
    for (std::size_t i = 0; i < kept; ++i)
      if (m->headers[i].first == name) return true;
    return false;
  };
  for (const stomp::Header& h : f.headers) {
    if (is_command_header(h.name)) continue;
    if (use_set ? !seen.insert(h.name).second : kept_already(h.name)) continue;
    auto& [name, value] = m->headers[kept++];
    name.assign(h.name);
    value.assign(h.value);
  }
  m->headers.resize(kept);
  return ref;
}

Result<StompSession::Target> StompSession::target_of(const stomp::Frame& f,
                                                    std::optional<std::string_view> element) {
  auto text = element ? element : f.get("destination");
  auto temporary = [this](broker::DestinationKind kind, std::string name) {
    return std::make_shared<const broker::Destination>(broker::Destination{kind, std::move(name), login_.vhost()});
  };
  // The connection's own temporary queues and topics, by NAME.
  for (auto [prefix, kind, temps] :
       {std::tuple{std::string_view("/temp-queue/"), broker::DestinationKind::kQueue, &temp_queues_},
        std::tuple{std::string_view("/temp-topic/"), broker::DestinationKind::kTopic, &temp_topics_}}) {
    if (!text || !text->starts_with(prefix)) continue;
    auto e = temps->resolve(text->substr(prefix.size()));
    if (!e) return e.error();
    return Target{temporary(kind, (*e)->queue), *e, false};
  }
  // Another connection's (or this one's), by the generated name of a reply-to.
  for (auto [prefix, kind, temps] :
       {std::tuple{std::string_view("/reply-queue/"), broker::DestinationKind::kQueue, &temp_queues_},
        std::tuple{std::string_view("/remote-temp-queue/"), broker::DestinationKind::kQueue, &temp_queues_},
        std::tuple{std::string_view("/remote-temp-topic/"), broker::DestinationKind::kTopic, &temp_topics_}}) {
    if (!text || !text->starts_with(prefix)) continue;
    std::string name(text->substr(prefix.size()));
    if (!name.starts_with(broker::kTemporaryQueuePrefix))
      return failure(std::string(errors::kUnknownDestination),
                     fmt::format("'{}' is not a reply {}: reply to the reply-to header as received", *text,
                                 kind == broker::DestinationKind::kQueue ? "queue" : "topic"));
    if (TempQueues::Entry* own = temps->find_by_queue(name)) return Target{temporary(kind, std::move(name)), own, false};
    return Target{temporary(kind, std::move(name)), nullptr, true};
  }
  std::shared_ptr<const broker::Destination> d;
  if (element) {
    // A composite destination's element (not cached: seldom repeated).
    auto parsed = destinations_.parse(f, *element, login_.vhost());
    if (!parsed)
      return failure(std::string(errors::kUnknownDestination),
                     fmt::format("'{}' is not a destination: use /queue/NAME, /topic/NAME, /temp-queue/NAME, "
                                 "/temp-topic/NAME or a bare NAME",
                                 *element));
    d = std::make_shared<const broker::Destination>(std::move(*parsed));
  } else {
    auto of = destinations_.of(f, login_.vhost());
    if (!of) return of.error();
    d = std::move(*of);
  }
  // (/amq/queue/NAME with x-queue-type:stream declares the stream, as its
  // headers ask.)
  if (text && text->starts_with("/amq/queue/") && d->kind == broker::DestinationKind::kQueue)
    return Target{d, nullptr, false, /*must_exist=*/true};
  if (broker::is_temporary_queue(*d)) {
    if (TempQueues::Entry* own = temp_queues_.find_by_queue(d->name)) return Target{d, own, false};
    return Target{d, nullptr, true};
  }
  if (broker::is_temporary_topic(*d)) {
    if (TempQueues::Entry* own = temp_topics_.find_by_queue(d->name)) return Target{d, own, false};
    return Target{d, nullptr, true};
  }
  return Target{d};
}

Status StompSession::rewrite_reply_to(broker::Message& m) {
  for (auto& [name, value] : m.headers) {
    if (name != "reply-to") continue;
    // RabbitMQ's /temp-queue/ replies come to /reply-queue/..., ActiveMQ's
    // /temp-topic/ ones to /remote-temp-topic/... (RabbitMQ has no temporary topics).
    const bool topic = value.starts_with("/temp-topic/");
    if (!topic && !value.starts_with("/temp-queue/")) continue;
    TempQueues& temps = topic ? temp_topics_ : temp_queues_;
    auto e = temps.resolve(std::string_view(value).substr(std::string_view(topic ? "/temp-topic/" : "/temp-queue/").size()));
    if (!e) return e.error();
    if ((*e)->subscription.empty()) {
      // RabbitMQ subscribes the connection to its temporary queue, the
      // subscription named by the temp-queue destination; a temporary topic
      // is subscribed to the same way, or a reply sent before an explicit
      // SUBSCRIBE would reach no one.
      const std::string id = value;
      if (subs_.contains(id)) return failure(std::string(errors::kDuplicateSubscription), id);
      if (subs_.count() >= options_.max_subscriptions) return failure(std::string(errors::kTooManySubscriptions));
      subscribe_temp(**e, topic ? broker::DestinationKind::kTopic : broker::DestinationKind::kQueue, id);
    }
    value = (topic ? "/remote-temp-topic/" : "/reply-queue/") + (*e)->queue;
  }
  return {};
}

void StompSession::subscribe_temp(TempQueues::Entry& e, broker::DestinationKind kind, std::string id) {
  broker::Window window;
  window.messages = std::max<std::uint32_t>(1, std::min(broker_.options().default_prefetch, broker_.options().max_unacked));
  window.bytes = transport_.max_write_buffer();
  auto sub = std::make_unique<Subscription>();
  sub->no = subs_.next_no();
  sub->id = id;
  sub->destination = broker::Destination{kind, e.queue, login_.vhost()};
  sub->owner = broker_.owner_of(sub->destination);
  sub->mode = AckMode::kAuto;
  sub->prefetch = window.messages;
  Subscription& s = subs_.add(std::move(sub));
  e.subscription = std::move(id);
  std::uint64_t op = begin_op(std::nullopt, 1, 0, false, s.no);
  broker_.subscribe(s.destination, key_of(s), AckMode::kAuto, window, std::nullopt, ticket(op), true);
}

Result<StompSession::SendSettings> StompSession::send_settings_of(const stomp::Frame& f) {
  SendSettings out;
  if (auto p = f.get("priority")) {
    auto v = parse_int<int>(*p);
    if (!v || *v < 0) return failure(std::string(errors::kBadPriority), std::string(*p));
    out.priority = static_cast<std::uint8_t>(std::min(*v, 9));
  }
  if (auto e = f.get("expires")) {
    auto v = parse_int<std::int64_t>(*e);
    if (!v || *v < 0) return failure(std::string(errors::kBadExpires), std::string(*e));
    out.expires = *v;
  }
  // RabbitMQ's per-message TTL: ms from now (it has no `expires`). The
  // header stays on the message, as RabbitMQ passes it on; with both, the
  // earlier expiry wins.
  if (auto e = f.get("expiration")) {
    auto v = parse_int<std::int64_t>(*e);
    if (!v || *v < 0) return failure(std::string(errors::kBadExpiration), std::string(*e));
    const std::int64_t at = wall_ms() + std::min<std::int64_t>(*v, std::int64_t{1} << 52);
    if (out.expires == 0 || at < out.expires) out.expires = at;
  }
  auto persistent = boolean_header(f, "persistent");
  if (!persistent) return persistent.error();
  out.persistent = *persistent;
  return out;
}

void StompSession::apply_settings(const SendSettings& settings, broker::Message& m,
                                  const std::vector<std::string_view>& routed) const {
  m.priority = settings.priority;
  m.expires_ms = settings.expires;
  // Persistent unless the SEND says otherwise, where the configuration
  // makes it the default (the shipped default: every queue and topic).
  if (settings.persistent) {
    m.persistent = *settings.persistent;
  } else {
    for (const std::string& pattern : broker_.options().persistent_default)
      if (broker::matches_pattern(pattern, m.destination)) m.persistent = true;
    // Through an exchange: as a SEND to one of its queues would be.
    std::string queue_text;
    for (std::string_view q : routed)
      for (const std::string& pattern : broker_.options().persistent_default)
        if (broker::matches_pattern(pattern, queue_text.assign("/queue/").append(q))) m.persistent = true;
  }
  if (m.persistent) m.headers.emplace_back("persistent", "true");
}

void StompSession::send_composite(const stomp::Frame& f, std::string_view text,
                                  std::optional<std::string_view> receipt) {
  auto elements = split_composite_destination(text, options_.max_composite_destinations);
  if (!elements) return fail(elements.error(), receipt);
  auto tx = transactions_.join(f.get("transaction"));
  if (!tx) return fail(tx.error(), receipt);
  // Every element is checked before anything is sent: a bad or refused one
  // is an ERROR naming it, and no element gets the message.
  std::vector<Target> targets;
  targets.reserve(elements->size());
  for (const std::string& element : *elements) {
    auto refuse = [&](const Error& e) {
      fail(e.message,
           fmt::format("element '{:.200}' of composite destination '{:.200}': {}", element, text,
                       e.detail.empty() ? e.message : e.detail),
           receipt);
    };
    if (element.starts_with("/exchange/") || element.starts_with("/amq/queue/"))
      return refuse(failure(std::string(errors::kUnknownDestination),
                            "RabbitMQ's /exchange/ and /amq/queue/ forms cannot be part of a composite destination"));
    auto target = target_of(f, element);
    if (!target) return refuse(target.error());
    if (const broker::Destination& d = *target->destination;
        d.kind == broker::DestinationKind::kTopic && broker::TopicPatterns::is_pattern(d.name))
      return refuse(failure(std::string(errors::kUnknownDestination),
                            "a wildcard destination: subscribe to it; SEND names one topic"));
    if (target->own_temp == nullptr && !target->reply) {
      const broker::Destination& d = *target->destination;
      if (Status allowed = login_.check(auth::Access::kWrite, d); !allowed) return refuse(allowed.error());
      // A queue or stream may not exist yet, and the broker would refuse
      // creating it only after the others had their copy: configure too,
      // as for any SEND in a transaction (docs/security.md).
      if (d.kind != broker::DestinationKind::kTopic || *tx != nullptr)
        if (Status allowed = login_.check(auth::Access::kConfigure, d); !allowed) return refuse(allowed.error());
    }
    targets.push_back(std::move(*target));
  }
  for (std::string_view name : broker::QueueArguments::names())
    if (f.get(name))
      return fail(errors::kUnsupportedHeader,
                  fmt::format("queue arguments ({}) on a composite destination: declare each queue first", name),
                  receipt);
  auto settings = send_settings_of(f);
  if (!settings) return fail(settings.error(), receipt);
  broker::DestinationKind kind = broker::DestinationKind::kQueue;
  for (const Target& t : targets)
    if (t.destination->kind == broker::DestinationKind::kStream) kind = t.destination->kind;
  auto schedule = scheduling_of(f, kind);
  if (!schedule) return fail(schedule.error(), receipt);

  ++messages_in_;
  // One message per element, each with its own id and destination (a
  // consumer of /queue/a sees destination /queue/a, as in ActiveMQ).
  struct Copy {
    std::shared_ptr<const broker::Destination> destination;
    broker::MessageRef message;
    std::vector<broker::MessageRef> repeats;
  };
  std::vector<Copy> copies;
  copies.reserve(targets.size());
  for (Target& t : targets) {
    broker::MessageRef built = build_message(f, *t.destination);
    Copy c{std::move(t.destination), std::move(built), {}};
    broker::Message& m = c.message.writable();
    if (Status rewritten = rewrite_reply_to(m); !rewritten) return fail(rewritten.error(), receipt);
    apply_settings(*settings, m, {});
    if (*schedule && *tx == nullptr)
      c.repeats = broker::apply_schedule(**schedule, m, wall_ms(), [&] { return broker_.next_message_id(shard_); });
    if (c.destination->kind == broker::DestinationKind::kTopic) {
      encode_common_headers(m);
      for (broker::MessageRef& r : c.repeats) encode_common_headers(r.writable());
    }
    copies.push_back(std::move(c));
  }
  if (*tx != nullptr) {
    for (Copy& c : copies) (*tx)->sends.push_back(TxSend{*c.destination, std::move(c.message)});
    begin_op(receipt, 0);
    return;
  }
  // One RECEIPT, once every copy is where a SEND to its element would
  // have put it (journaled, when persistent).
  const std::uint64_t op = begin_op(receipt, 1, (f.body.size() + 256) * copies.size());
  std::uint32_t answers = 0;
  for (Copy& c : copies) {
    for (broker::MessageRef& r : c.repeats) answers += broker_.publish(c.destination, std::move(r), ticket(op), true);
    answers += broker_.publish(std::move(c.destination), std::move(c.message), ticket(op), true);
  }
  if (answers > 1) receipts_.expect(op, answers - 1);
}

void StompSession::handle_send(const stomp::Frame& f) {
  auto receipt = f.get("receipt");
  // The broker names each message: a SEND naming one is refused, as
  // RabbitMQ does, rather than silently renamed. The other headers the
  // broker sets on MESSAGE (subscription, ack, redelivered,
  // x-delivery-count) are dropped from the SEND (docs/dialects.md).
  if (f.get("message-id"))
    return fail(errors::kReservedHeader, "'message-id' is not allowed on 'SEND' (the broker sets it)", receipt);
  // RabbitMQ's /exchange/NAME[/KEY]: routed here, on this shard's replica
  // of the vhost's exchanges, to the bound queues (docs/dialects.md).
  auto exchange = exchange_address(f);
  if (exchange && exchange->exchange.empty())
    return fail(errors::kUnknownDestination, fmt::format("'{}' names no exchange: /exchange/NAME[/KEY]", exchange->text),
                receipt);
  if (auto text = f.get("destination"); !exchange && text && is_composite_destination(*text))
    return send_composite(f, *text, receipt);
  auto target = exchange ? Result<Target>(Target{std::make_shared<const broker::Destination>(broker::Destination{
                               broker::DestinationKind::kQueue, {}, login_.vhost()})})
                         : target_of(f);
  if (!target) return fail(target.error(), receipt);
  // A temporary queue is private: its unguessable name is the permission
  // (RabbitMQ does not check them either).
  const bool temporary = target->own_temp != nullptr || target->reply;
  auto* d = &target->destination;
  if (exchange) {
    if (!permitted(auth::Access::kWrite, "/exchange/" + exchange->exchange, receipt)) return;
  } else if (!temporary && !permitted(auth::Access::kWrite, **d, receipt)) {
    return;
  }
  auto settings = send_settings_of(f);
  if (!settings) return fail(settings.error(), receipt);
  auto tx = transactions_.join(f.get("transaction"));
  if (!tx) return fail(tx.error(), receipt);
  // RabbitMQ's queue arguments declare a /queue/ or /amq/queue/ destination
  // (docs/dialects.md, "Queue arguments"); on a SEND to a topic or a reply
  // queue nothing is declared, as in RabbitMQ (they stay message headers).
  std::shared_ptr<const broker::QueueArguments> declaration;
  if ((*d)->kind == broker::DestinationKind::kQueue && !temporary) {
    auto args = queue_arguments_of(f);
    if (!args) return fail(args.error(), receipt);
    declaration = std::move(*args);
    if (declaration && *tx != nullptr)
      return fail(errors::kUnsupportedHeader,
                  "queue arguments on a SEND inside a transaction (not supported yet): declare the queue first "
                  "(a SUBSCRIBE or a SEND with them outside the transaction, or the management API)",
                  receipt);
  }

  // Scheduled delivery (docs/dialects.md): checked here, its due time fixed
  // now or, in a transaction, at COMMIT.
  auto schedule = scheduling_of(f, (*d)->kind);
  if (!schedule) return fail(schedule.error(), receipt);

  ++messages_in_;
  auto m = build_message(f, **d);
  broker::Message* mutable_m = &m.writable();
  // The queues it goes to; views into this shard's replica, used before
  // anything else runs here.
  std::vector<std::string_view> routed;
  if (exchange) {
    // RabbitMQ's MESSAGE destination for what came through an exchange.
    mutable_m->destination = "/exchange/" + exchange->exchange;
    if (!exchange->key.empty()) mutable_m->destination.append("/").append(exchange->key);
    if (Status r = broker_.route_exchange(shard_, login_.vhost(), exchange->exchange, exchange->key,
                                          broker::SendHeaders(mutable_m->headers), routed);
        !r)
      return fail_exchange(r.error(), receipt);
  }
  if (Status rewritten = rewrite_reply_to(*mutable_m); !rewritten) return fail(rewritten.error(), receipt);
  apply_settings(*settings, *mutable_m, routed);
  // A repeating schedule's later copies (each its own message).
  std::vector<broker::MessageRef> repeats;
  if (*schedule && *tx == nullptr)
    repeats = broker::apply_schedule(**schedule, *mutable_m, wall_ms(), [&] { return broker_.next_message_id(shard_); });
  // A topic message is encoded once for all its subscribers (most speak 1.2).
  if (!exchange && (*d)->kind == broker::DestinationKind::kTopic) {
    encode_common_headers(*mutable_m);
    for (broker::MessageRef& r : repeats) encode_common_headers(r.writable());
  }

  if (exchange) {
    std::vector<broker::Destination> queues;
    queues.reserve(routed.size());
    for (std::string_view q : routed)
      queues.push_back(broker::Destination{broker::DestinationKind::kQueue, std::string(q), login_.vhost()});
    if (*tx != nullptr) {
      for (broker::Destination& q : queues) (*tx)->sends.push_back(TxSend{std::move(q), m});
      begin_op(receipt, 0);
      return;
    }
    // Unroutable: dropped, as RabbitMQ does (STOMP has no mandatory flag).
    if (queues.empty()) {
      begin_op(receipt, 0);
      return;
    }
    const std::uint64_t op = begin_op(receipt, 1, f.body.size() + 256);
    std::uint32_t answers = 0;
    for (broker::Destination& q : queues) {
      for (const broker::MessageRef& r : repeats) answers += broker_.publish(q, r, ticket(op), true);
      answers += broker_.publish(q, m, ticket(op), true);
    }
    if (answers > 1) receipts_.expect(op, answers - 1);
    return;
  }

  if (*tx != nullptr) {
    // A transaction's sends reach their queues only after COMMIT, too late
    // to refuse one: sending in a transaction needs configure as well
    // (docs/security.md).
    if (!temporary && !permitted(auth::Access::kConfigure, **d, receipt)) return;
    (*tx)->sends.push_back(TxSend{**d, std::move(m)});
    begin_op(receipt, 0);
    return;
  }
  const std::uint64_t bytes = f.body.size() + 256;
  std::uint64_t op = begin_op(receipt, 1, bytes);
  // (A temporary queue is never created by a SEND: the broker drops a
  // message for one that has gone.)
  const bool may_create = !target->must_exist && (temporary || login_.may(auth::Access::kConfigure, **d));
  if (target->must_exist) must_exist_ops_.insert(op);
  if (declaration) {
    // Two answers: the declaration's, then the publish's (and one per repetition).
    receipts_.expect(op, 1);
    auto declared = *d;
    broker_.publish_declaring(std::move(*d), std::move(m), ticket(op), may_create, std::move(declaration));
    std::uint32_t answers = 0;
    for (broker::MessageRef& r : repeats) answers += broker_.publish(declared, std::move(r), ticket(op), may_create);
    if (answers > 0) receipts_.expect(op, answers);
    return;
  }
  // A topic message may go to wildcard subscriptions too: one answer each.
  std::uint32_t answers = 0;
  for (broker::MessageRef& r : repeats) answers += broker_.publish(*d, std::move(r), ticket(op), may_create);
  answers += broker_.publish(std::move(*d), std::move(m), ticket(op), may_create);
  if (answers > 1) receipts_.expect(op, answers - 1);
}

Result<std::shared_ptr<const broker::QueueArguments>> StompSession::queue_arguments_of(const stomp::Frame& f) {
  std::shared_ptr<broker::QueueArguments> args;
  for (std::string_view name : broker::QueueArguments::names()) {
    auto value = f.get(name);
    if (!value) continue;
    if (!args) args = std::make_shared<broker::QueueArguments>();
    if (Status s = args->set(name, *value); !s) return s.error();
  }
  if (args) {
    if (Status s = args->validate(); !s) return s.error();
  }
  return std::shared_ptr<const broker::QueueArguments>(std::move(args));
}

Result<std::optional<bool>> StompSession::boolean_header(const stomp::Frame& f, std::string_view name) {
  auto value = f.get(name);
  if (!value) return std::optional<bool>();
  auto b = stomp::parse_boolean(*value);
  if (!b)
    return Error{fmt::format("{} {}", errors::kBadBoolean, name),
                 fmt::format("'{}:{}': expected true or false (any letter case)", name, *value)};
  return std::optional<bool>(*b);
}

Result<broker::Window> StompSession::window_of(const stomp::Frame& f) const {
  const Error bad{std::string(errors::kBadWindow), {}};
  broker::Window w;
  std::int64_t messages = 0;
  for (std::string_view name : {"prefetch-count", "activemq.prefetchSize"}) {
    if (auto v = f.get(name)) {
      auto n = parse_int<std::int64_t>(*v);
      if (!n) return bad;
      messages = *n;
      break;
    }
  }
  if (auto credit = f.get("credit")) {  // Apollo: credit:MESSAGES[,BYTES]
    auto comma = credit->find(',');
    auto n = parse_int<std::int64_t>(credit->substr(0, comma));
    if (!n) return bad;
    if (messages <= 0) messages = *n;
    if (comma != std::string_view::npos) {
      auto b = parse_int<std::int64_t>(credit->substr(comma + 1));
      if (!b) return bad;
      if (*b > 0) w.bytes = static_cast<std::uint64_t>(*b);
    }
  }
  if (auto cws = f.get("consumer-window-size")) {  // Artemis: bytes, -1 = unbounded
    auto b = parse_int<std::int64_t>(*cws);
    if (!b) return bad;
    if (*b > 0) w.bytes = static_cast<std::uint64_t>(*b);
  }
  if (messages <= 0) messages = broker_.options().default_prefetch;
  w.messages = static_cast<std::uint32_t>(std::min<std::int64_t>(messages, broker_.options().max_unacked));
  if (w.messages == 0) w.messages = 1;
  return w;
}

Result<std::optional<broker::DurableSubscription>> StompSession::durable_of(const stomp::Frame& f,
                                                                           const broker::Destination& d,
                                                                           std::string_view id) const {
  auto bad = [](std::string detail) { return Error{std::string(errors::kBadDurable), std::move(detail)}; };
  broker::DurableSubscription s;
  s.vhost = d.vhost;
  s.topic = d.name;
  s.owner = login_.user();  // who creates it owns it; only they may attach or delete
  // shared:true asks to share the subscription with other consumers of the
  // same user (docs/behaviour.md, "Durable topic subscriptions").
  std::optional<bool> shared;
  if (auto v = f.get("shared")) {
    shared = stomp::parse_boolean(*v);
    if (!shared) return bad("shared must be true or false, not '" + std::string(*v) + "'");
  }
  const std::string& client_id = login_.client_id();
  // ActiveMQ: client-id on CONNECT + activemq.subscriptionName.
  // Artemis: client-id + durable-subscription-name (or durable-subscriber-name).
  // Exclusive, unless shared:true (JMS 2.0's shared durable subscription:
  // named by client-id + name when a client-id is given, else by the name).
  for (std::string_view header :
       {"activemq.subscriptionName", "durable-subscription-name", "durable-subscriber-name"}) {
    auto name = f.get(header);
    if (!name) continue;
    if (name->empty()) return bad(std::string(header) + " is empty");
    s.shared = shared.value_or(false);
    if (client_id.empty() && !s.shared)
      return bad(std::string(header) + " needs a client-id header on CONNECT (or shared:true)");
    s.name = client_id.empty() ? std::string(*name) : client_id + ":" + std::string(*name);
    return std::optional<broker::DurableSubscription>(std::move(s));
  }
  // RabbitMQ's durable subscription is a queue several consumers may share.
  s.shared = shared.value_or(true);
  // RabbitMQ: durable:true (or persistent:true) and auto-delete:false; the
  // subscription is named by x-queue-name, else by its id.
  // (handle_subscribe checked that these are booleans, in any letter case.)
  auto flag = f.get("durable");
  if (!flag) flag = f.get("persistent");
  if (!flag || stomp::parse_boolean(*flag) != true) return std::optional<broker::DurableSubscription>();
  if (auto ad = f.get("auto-delete"); ad && stomp::parse_boolean(*ad) == true)
    return bad("durable:true with auto-delete:true would not survive the subscriber; use auto-delete:false");
  if (auto q = f.get("x-queue-name"); q && !q->empty()) s.name = std::string(*q);
  else if (!f.get("id")) return bad("durable:true needs an id header to name the subscription");
  else s.name = std::string(id);
  return std::optional<broker::DurableSubscription>(std::move(s));
}

void StompSession::handle_subscribe(const stomp::Frame& f) {
  auto receipt = f.get("receipt");
  // RabbitMQ's /exchange/NAME[/PATTERN]: a temporary queue of this
  // subscription, bound to the exchange with PATTERN.
  auto exchange = exchange_address(f);
  if (exchange && exchange->exchange.empty())
    return fail(errors::kUnknownDestination,
                fmt::format("'{}' names no exchange: /exchange/NAME[/PATTERN]", exchange->text), receipt);
  // ActiveMQ lets a consumer read several destinations at once; here a
  // subscription reads one (its acks, window and UNSUBSCRIBE are that
  // destination's): refused, never silently a queue named "a,b".
  if (auto text = f.get("destination"); !exchange && text && is_composite_destination(*text))
    return fail(errors::kCompositeSubscribe,
                fmt::format("'{:.200}' is a composite destination: SUBSCRIBE to each element with an id of its own",
                            *text),
                receipt);
  auto target = exchange ? Result<Target>(Target{std::make_shared<const broker::Destination>(broker::Destination{
                               broker::DestinationKind::kQueue, generate_temporary_queue_name(), login_.vhost()})})
                         : target_of(f);
  if (!target) return fail(target.error(), receipt);
  const broker::Destination& dest = *target->destination;
  if (target->reply)
    return fail(errors::kReadRefused, "a temporary queue or topic is read by the connection that made it only",
                receipt);
  TempQueues::Entry* temp = target->own_temp;
  if (exchange) {
    if (!permitted(auth::Access::kRead, "/exchange/" + exchange->exchange, receipt)) return;
    // RabbitMQ's durable form (a named queue bound to the exchange) is not
    // there yet: refused, never silently a temporary one.
    for (std::string_view name : {"durable", "persistent"})
      if (auto b = f.get(name); b && stomp::parse_boolean(*b) == true)
        return fail(errors::kUnsupportedHeader,
                    fmt::format("{}:true on {} (a durable queue bound to an exchange) is not supported yet; "
                                "bind a queue with the management API and subscribe to /queue/NAME",
                                name, exchange->text),
                    receipt);
    if (auto b = f.get("browser"); b && stomp::parse_boolean(*b) == true)
      return fail(errors::kBadBrowser, "an exchange cannot be browsed: browse a queue", receipt);
  } else if (temp == nullptr && !permitted(auth::Access::kRead, dest, receipt)) {
    return;
  }
  for (std::string_view name : kSubscribeBooleans)
    if (auto b = boolean_header(f, name); !b) return fail(b.error(), receipt);
  std::string id;
  if (auto v = f.get("id")) {
    id = std::string(*v);
  } else if (version_ == stomp::Version::k1_0 || !options_.strict_subscription_id) {
    // 1.0: the id is optional; the destination names it. RabbitMQ does the
    // same at 1.1 and 1.2 (stomp-php's subscribe($destination) sends no id);
    // ACK, NACK and UNSUBSCRIBE then name the subscription by destination.
    id = exchange ? exchange->text : dest.to_string();
  } else {
    return fail(errors::kMissingId,
                "SUBSCRIBE requires an id header in STOMP 1.1 and 1.2 (strict-subscription-id)", receipt);
  }
  if (subs_.contains(id)) return fail(errors::kDuplicateSubscription, id, receipt);
  if (subs_.count() >= options_.max_subscriptions) return fail(errors::kTooManySubscriptions, {}, receipt);
  AckMode mode = AckMode::kAuto;
  if (auto a = f.get("ack")) {
    if (*a == "auto") mode = AckMode::kAuto;
    else if (*a == "client") mode = AckMode::kClient;
    else if (*a == "client-individual") mode = AckMode::kClientIndividual;
    else return fail(errors::kBadAckMode, fmt::format("'{}': use auto, client or client-individual", *a), receipt);
  }
  // ActiveMQ's retroactive consumer (recent topic messages replayed to a new
  // subscriber) is not there yet: refused, never silently a plain one.
  if (auto b = f.get("activemq.retroactive"); b && stomp::parse_boolean(*b) == true)
    return fail(errors::kUnsupportedHeader, "activemq.retroactive:true (retroactive consumers are not supported yet)",
                receipt);
  std::optional<broker::DurableSubscription> durable;
  if (dest.kind == broker::DestinationKind::kTopic) {
    auto asked = durable_of(f, dest, id);
    if (!asked) return fail(asked.error(), receipt);
    durable = std::move(*asked);
    if (durable && broker::is_temporary_topic(dest))
      return fail(errors::kBadDurable, "a temporary topic ends with its connection: it has no durable subscriptions",
                  receipt);
  }
  // ActiveMQ's and Artemis' JMS selector: a typo is an ERROR naming the
  // position, never a subscription that silently matches nothing.
  broker::SelectorRef selector;
  if (auto text = f.get("selector")) {
    auto parsed = selector::Selector::parse(*text);
    if (!parsed) return fail(parsed.error(), receipt);  // message: "invalid selector at position N"
    selector = std::move(*parsed);
    if (auto b = f.get("browser"); selector && b && stomp::parse_boolean(*b) == true)
      return fail(errors::kBadBrowser, "a browser cannot have a selector (it would be ignored)", receipt);
  }
  if (auto b = f.get("browser"); b && stomp::parse_boolean(*b) == true) {
    if (dest.kind != broker::DestinationKind::kQueue)
      return fail(errors::kBadBrowser, fmt::format("{} is not a queue: only a queue can be browsed", dest.to_string()),
                  receipt);
    return browse(dest, std::move(id), receipt);
  }
  auto window = window_of(f);
  if (!window) return fail(window.error(), receipt);
  // An auto-ack window is refilled as frames are written, so what it bounds
  // is our output buffer: cap it in bytes too, or a consumer that stops
  // reading would make us buffer window x message size.
  const std::uint64_t max_write = transport_.max_write_buffer();
  if (mode == AckMode::kAuto && (window->bytes == 0 || window->bytes > max_write)) window->bytes = max_write;

  broker::ConsumerOptions options(std::move(selector));
  // RabbitMQ's queue arguments: a declaration of the queue subscribed to.
  // A stream (also /queue/NAME with x-queue-type:stream) takes its own
  // arguments (stream_offset_of), not a queue's.
  if (dest.kind == broker::DestinationKind::kStream) {
  } else if (auto args = queue_arguments_of(f); !args) {
    return fail(args.error(), receipt);
  } else if (*args && dest.kind == broker::DestinationKind::kTopic) {
    return fail(errors::kUnsupportedHeader,
                fmt::format("queue arguments ({}) on a topic subscription are not supported yet",
                            (*args)->items().front().first),
                receipt);
  } else if (*args && temp == nullptr) {
    options.arguments = std::move(*args);
  }
  // ActiveMQ's exclusive consumer (activemq.exclusive:true, or exclusive:true)
  // on a queue; a topic subscription has its own queue, so it means nothing
  // there (accepted, docs/dialects.md).
  if (dest.kind == broker::DestinationKind::kQueue)
    for (std::string_view name : {"activemq.exclusive", "exclusive"})
      if (auto b = f.get(name); b && stomp::parse_boolean(*b) == true) options.exclusive = true;
  // JMS noLocal on a topic: not the messages this connection publishes.
  if (dest.kind == broker::DestinationKind::kTopic)
    for (std::string_view name : {"activemq.noLocal", "no-local"})
      if (auto b = f.get(name); b && stomp::parse_boolean(*b) == true) options.no_local = true;
  if (Status st = stream_offset_of(f, dest, options); !st) return fail(st.error(), receipt);
  if (options.no_local && durable)
    return fail(errors::kUnsupportedHeader, "noLocal on a durable subscription is not supported yet", receipt);
  auto sub = std::make_unique<Subscription>();
  sub->no = subs_.next_no();
  sub->id = id;
  sub->destination = dest;
  sub->owner = broker_.owner_of(dest);
  sub->mode = mode;
  sub->durable = durable.has_value();
  if (durable) sub->durable_name = durable->name;
  sub->prefetch = window->messages;
  // Clients such as PHP's extension wait for the RECEIPT and fail if a
  // MESSAGE comes first, so deliveries wait until the RECEIPT is written.
  sub->awaiting_receipt = receipt.has_value();
  Subscription& s = subs_.add(std::move(sub));
  if (temp != nullptr) temp->subscription = s.id;
  s.exchange_queue = exchange.has_value();
  const bool may_create = !target->must_exist && (temp != nullptr || exchange ||
                                                  login_.may(auth::Access::kConfigure, s.destination));
  // ActiveMQ's virtual topics: a consumer queue of VirtualTopic.X is bound
  // to amq.topic with that key, so /topic/VirtualTopic.X reaches it too
  // (broker/virtual_topic.h). Only where the SUBSCRIBE may make the queue:
  // a binding routes to its queue, creating it.
  std::optional<std::string_view> virtual_topic;
  if (!exchange && temp == nullptr && may_create && dest.kind == broker::DestinationKind::kQueue)
    virtual_topic = broker::virtual_topic_of_queue(dest.name);
  std::uint64_t op = begin_op(receipt, exchange || virtual_topic ? 2 : 1, 0, false, s.no);
  if (options.arguments) receipts_.expect(op, 1);  // the declaration's answer too
  if (target->must_exist) must_exist_ops_.insert(op);
  broker_.subscribe(s.destination, key_of(s), mode, *window, std::move(durable), ticket(op), may_create,
                    std::move(options));
  if (exchange || virtual_topic) {
    // The binding, the SUBSCRIBE's second answer: its RECEIPT comes once
    // every shard routes to the queue.
    broker::ExchangeChange c;
    c.kind = broker::ExchangeChange::Kind::kBind;
    c.vhost = login_.vhost();
    c.exchange = exchange ? std::move(exchange->exchange) : std::string("amq.topic");
    c.destination = broker::BindingDestination::queue(s.destination.name);
    c.key = exchange ? std::move(exchange->key) : std::string(*virtual_topic);
    std::weak_ptr<int> alive = alive_;
    broker_.change_exchanges(shard_, std::move(c), [this, alive, op](Status bound) {
      if (alive.expired() || released_ || closing_) return;
      if (!bound) return fail_exchange(bound.error(), receipts_.receipt_of(op));
      on_complete(op, broker::Outcome::success());
    });
  }
}

Status StompSession::stream_offset_of(const stomp::Frame& f, const broker::Destination& d,
                                      broker::ConsumerOptions& options) {
  // RabbitMQ ignores x-stream-offset on other queues; so does Ferry.
  if (d.kind != broker::DestinationKind::kStream) return {};
  // A consumer group (docs/streams.md "Consumer groups"): `group`, or
  // Kafka's spelling `group.id`.
  for (std::string_view name : {"group", "group.id"}) {
    auto g = f.get(name);
    if (!g) continue;
    if (g->empty() || g->size() > 255)
      return failure("invalid stream group", fmt::format("{}: expected 1 to 255 bytes, got {}", name, g->size()));
    options.stream_group = std::string(*g);
    break;
  }
  // The stream's own arguments (a declaration, as RabbitMQ's).
  for (std::string_view name : broker::StreamArguments::spellings())
    if (auto v = f.get(name))
      if (Status st = options.stream_arguments.set(name, *v); !st) return st;
  // A plain reader of one partition (the header MESSAGE frames carry).
  if (auto p = f.get("partition")) {
    std::uint32_t n = 0;
    auto [end, ec] = std::from_chars(p->data(), p->data() + p->size(), n);
    if (p->empty() || ec != std::errc() || end != p->data() + p->size())
      return failure("invalid stream partition", fmt::format("partition: '{}': expected a partition number",
                                                             p->substr(0, 64)));
    options.stream_partition = n;
  }
  auto text = f.get("x-stream-offset");
  if (!text) return {};
  auto spec = stream::parse_offset_spec(*text, wall_ms());
  if (!spec) return spec.error();  // "invalid x-stream-offset: '...': expected ..."
  options.stream_offset = *spec;
  return {};
}

void StompSession::handle_unsubscribe(const stomp::Frame& f) {
  auto receipt = f.get("receipt");
  std::string id;
  if (auto v = f.get("id")) id = std::string(*v);
  else if (auto dest = f.get("destination");
           dest && (version_ == stomp::Version::k1_0 || !options_.strict_subscription_id)) {
    // A subscription made without id is named by its destination (above).
    auto d = destinations_.parse(f, *dest, login_.vhost());
    id = d ? d->to_string() : std::string(*dest);
  } else {
    return fail(errors::kMissingId, "UNSUBSCRIBE requires an id header", receipt);
  }
  // Deleting a durable subscription, in each dialect's words.
  auto durable_flag = boolean_header(f, "durable");
  if (!durable_flag) return fail(durable_flag.error(), receipt);
  auto persistent_flag = boolean_header(f, "persistent");
  if (!persistent_flag) return fail(persistent_flag.error(), receipt);
  const bool remove_durable = f.get("activemq.subscriptionName") || f.get("durable-subscription-name") ||
                              f.get("durable-subscriber-name") || *durable_flag == true ||
                              *persistent_flag == true;
  if (subs_.remove_browser(id)) {  // a browser holds nothing
    begin_op(receipt, 0);
    return;
  }
  Subscription* s = subs_.find(id);
  if (s == nullptr) {
    if (remove_durable) return remove_inactive_durable(f, receipt);
    return fail(errors::kUnknownSubscription, id, receipt);
  }
  // Deleting a durable subscription deletes what it holds: configure.
  if (remove_durable && s->durable && !permitted(auth::Access::kConfigure, s->destination, receipt)) return;
  std::unique_ptr<Subscription> gone = subs_.remove(id);
  TempQueues& temps = gone->destination.kind == broker::DestinationKind::kTopic ? temp_topics_ : temp_queues_;
  if (TempQueues::Entry* temp = temps.find_by_queue(gone->destination.name);
      temp != nullptr && (broker::is_temporary_queue(gone->destination) || broker::is_temporary_topic(gone->destination)) &&
      temp->subscription == id)
    temp->subscription.clear();
  // The queue takes back whatever the subscription still held.
  std::uint64_t op = begin_op(receipt, 1);
  broker_.unsubscribe(gone->owner, key_of(*gone), remove_durable && gone->durable, ticket(op));
  if (gone->exchange_queue) drop_exchange_queue(*gone);
}

void StompSession::browse(const broker::Destination& d, std::string id, std::optional<std::string_view> receipt) {
  subs_.add_browser(id);
  const std::uint64_t op = begin_op(receipt, 1);
  // The snapshot is taken on the queue's shard and written here. The
  // session may be gone when it comes back: `alive` tells (as for logins).
  std::weak_ptr<int> alive = alive_;
  broker::Broker* broker = &broker_;
  const ShardId home = shard_, owner = broker_.owner_of(d);
  const std::size_t limit = broker_.options().max_unacked;
  broker_.post(owner, [this, alive, broker, home, owner, d, id = std::move(id), op, limit]() mutable {
    auto messages = broker->local(owner).browse_queue(d, limit);
    broker->post(home, [this, alive, d = std::move(d), id = std::move(id), op,
                        messages = std::move(messages)]() mutable {
      if (alive.expired()) return;
      on_browsed(d, id, op, std::move(messages));
    });
  });
}

void StompSession::on_browsed(const broker::Destination& d, const std::string& id, std::uint64_t op,
                              std::optional<std::vector<broker::BrowsedMessage>> messages) {
  if (closing_ || released_) return;
  on_complete(op, broker::Outcome::success());  // the SUBSCRIBE's RECEIPT first
  if (closing_ || !subs_.has_browser(id)) return;  // unsubscribed meanwhile
  const std::string destination = d.to_string();
  std::string& out = transport_.output();
  // nullopt: no such queue yet, so nothing to show.
  if (messages) {
    for (const broker::BrowsedMessage& m : *messages) {
      Encoder::begin_frame(out, Command::kMessage);
      Encoder::add_header(out, "destination", destination, version_, Command::kMessage);
      Encoder::add_header(out, "message-id", m.message_id, version_, Command::kMessage);
      Encoder::add_header(out, "subscription", id, version_, Command::kMessage);
      Encoder::add_header(out, "redelivered", m.redelivered ? "true" : "false", version_, Command::kMessage);
      for (const auto& [k, v] : m.headers) Encoder::add_header(out, k, v, version_, Command::kMessage);
      Encoder::end_headers(out, m.body.size());
      out += m.body;
      Encoder::end_frame(out);
    }
  }
  // The end marker, as ActiveMQ and Apollo send it.
  Encoder::begin_frame(out, Command::kMessage);
  Encoder::add_header(out, "destination", destination, version_, Command::kMessage);
  Encoder::add_header(out, "message-id", "browser-end", version_, Command::kMessage);
  Encoder::add_header(out, "subscription", id, version_, Command::kMessage);
  Encoder::add_header(out, "browser", "end", version_, Command::kMessage);
  Encoder::end_headers(out, 0);
  Encoder::end_frame(out);
  transport_.flush();
}

void StompSession::remove_inactive_durable(const stomp::Frame& f, std::optional<std::string_view> receipt) {
  auto dest = f.get("destination");
  std::optional<broker::Destination> d;
  if (dest) d = broker::parse_destination(*dest, login_.vhost());
  if (!d || d->kind != broker::DestinationKind::kTopic) {
    return fail(errors::kBadDurable,
                "to delete a durable subscription that is not active on this connection, "
                "UNSUBSCRIBE needs its topic in the destination header",
                receipt);
  }
  if (!permitted(auth::Access::kConfigure, *d, receipt)) return;
  auto durable = durable_of(f, *d, f.get("id").value_or(""));
  if (!durable) return fail(durable.error(), receipt);
  if (!*durable) return fail(errors::kBadDurable, "not a durable subscription", receipt);
  std::uint64_t op = begin_op(receipt, 1);
  broker_.remove_durable(**durable, ticket(op));
}

void StompSession::handle_ack(const stomp::Frame& f, bool ack) {
  auto receipt = f.get("receipt");
  if (!f.get("id") && !f.get("ack") && !f.get("message-id")) return fail(errors::kMissingAckId, {}, receipt);
  auto target = subs_.resolve_ack(f);
  if (!target && ack && subs_.covered_by_cumulative_ack(f)) {
    // A client-mode ACK naming a delivery that an earlier cumulative ACK
    // already took (a client acking every MESSAGE after acking a later one):
    // redundant, so nothing to do but the RECEIPT.
    begin_op(receipt, 0);
    return;
  }
  std::optional<bool> requeue;
  if (!ack) {
    auto flag = boolean_header(f, "requeue");
    if (!flag) return fail(flag.error(), receipt);
    requeue = *flag;
  }
  if (!target) {
    std::string which(f.get("id").value_or(f.get("ack").value_or(f.get("message-id").value_or(""))));
    return fail(errors::kUnknownAckId, which, receipt);
  }
  auto tx = transactions_.join(f.get("transaction"));
  if (!tx) return fail(tx.error(), receipt);

  Subscription& s = *target->sub;
  DeliverySeqs seqs;
  if (s.mode == AckMode::kClient) {
    Subscriptions::take_cumulative(s, target->index, ack, seqs);
  } else {
    // client-individual: this one only.
    seqs.push_back(s.held[target->index].seq);
    s.held.erase(s.held.begin() + static_cast<std::ptrdiff_t>(target->index));
  }

  SettleAction action = SettleAction::kAck;
  if (!ack) action = requeue == false ? SettleAction::kDeadLetter : SettleAction::kRequeue;
  if (*tx != nullptr) {
    // Held until COMMIT/ABORT, but no longer counted in the window so a
    // one-at-a-time consumer can go on inside its transaction.
    (*tx)->settles.push_back(TxSettle{s.no, seqs, action});
    std::uint64_t op = begin_op(receipt, 1);
    settle(s, std::move(seqs), SettleAction::kRelease, op);
    return;
  }
  std::uint64_t op = begin_op(receipt, 1);
  settle(s, std::move(seqs), action, op);
}

void StompSession::settle(Subscription& s, DeliverySeqs seqs, SettleAction action, std::uint64_t op) {
  broker_.settle(s.owner, key_of(s), std::move(seqs), action, ticket(op));
}

// Applies a transaction's settles as part of `op` (the COMMIT's, or 0 for
// an abort at close). An unsubscribed subscription's held messages went
// back to its queue already.
void StompSession::apply_settles(std::vector<TxSettle>& settles, std::uint64_t op) {
  for (TxSettle& st : settles)
    if (Subscription* s = subs_.find(st.sub)) settle(*s, std::move(st.seqs), st.action, op);
}

void StompSession::handle_begin(const stomp::Frame& f) {
  auto receipt = f.get("receipt");
  auto name = f.get("transaction");
  if (!name) return fail(errors::kMissingTransaction, {}, receipt);
  if (Status begun = transactions_.begin(*name); !begun) return fail(begun.error(), receipt);
  begin_op(receipt, 0);
}

void StompSession::handle_commit(const stomp::Frame& f) {
  auto receipt = f.get("receipt");
  auto taken = transactions_.take(f.get("transaction"));
  if (!taken) return fail(taken.error(), receipt);
  Transaction& tx = *taken;
  schedule_at_commit(tx);

  // Persistent sends (to queues, and to topics for their durable
  // subscriptions) are journaled as one atomic record: after a crash all of
  // them or none exist. The transaction's acks follow only once that record
  // is durable, so a crash never keeps the acks without the sends.
  std::vector<std::pair<broker::Destination, broker::MessageRef>> atomic;
  std::vector<TxSend> rest;
  // Sends to a stream: one batch per stream partition, appended at COMMIT
  // (docs/streams.md "Transactions"), in SEND order per stream.
  std::vector<std::pair<broker::Destination, std::vector<broker::MessageRef>>> streams;
  for (TxSend& send : tx.sends) {
    if (send.destination.kind == broker::DestinationKind::kStream) {
      auto same = std::find_if(streams.begin(), streams.end(),
                               [&](const auto& st) { return st.first == send.destination; });
      if (same == streams.end()) same = streams.insert(streams.end(), {send.destination, {}});
      same->second.push_back(std::move(send.message));
      continue;
    }
    // A temporary queue keeps nothing across a restart (and must not come
    // back from the journal without its connection).
    if (broker_.journaled() && send.message->persistent && !broker::is_temporary_queue(send.destination)) {
      atomic.emplace_back(std::move(send.destination), std::move(send.message));
    } else {
      rest.push_back(std::move(send));
    }
  }
  std::uint32_t parts = static_cast<std::uint32_t>(rest.size() + streams.size());
  for (const TxSettle& st : tx.settles)
    if (subs_.find(st.sub)) ++parts;
  std::uint64_t batch_op = 0;
  if (!atomic.empty()) batch_op = begin_op(std::nullopt, 1);
  std::uint64_t op = begin_op(receipt, parts);
  for (TxSend& send : rest) {
    const std::uint32_t answers = broker_.publish(send.destination, std::move(send.message), ticket(op));
    if (answers > 1) receipts_.expect(op, answers - 1);
  }
  for (auto& [d, messages] : streams) {
    // On the stream's owner, as a SEND to it (StreamStore::publish_batch).
    const ShardId owner = broker_.owner_of(d);
    broker::Broker* b = &broker_;
    broker_.post(owner, [b, owner, d = std::move(d), messages = std::move(messages), t = ticket(op)] {
      b->local(owner).streams().publish_batch(d, messages, t);
    });
  }
  if (batch_op != 0) {
    transactions_.settle_after(batch_op, op, std::move(tx.settles));
    broker_.publish_atomic(std::move(atomic), ticket(batch_op));
    return;
  }
  apply_settles(tx.settles, op);
}

void StompSession::handle_abort(const stomp::Frame& f) {
  auto receipt = f.get("receipt");
  auto taken = transactions_.take(f.get("transaction"));
  if (!taken) return fail(taken.error(), receipt);
  std::vector<TxSettle>& settles = taken->settles;
  std::uint32_t parts = 0;
  for (TxSettle& st : settles) {
    if (subs_.find(st.sub)) ++parts;
    st.action = SettleAction::kRequeue;  // the messages it acknowledged are delivered again
  }
  std::uint64_t op = begin_op(receipt, parts);
  apply_settles(settles, op);
}

void StompSession::handle_disconnect(const stomp::Frame& f) {
  disconnecting_ = true;
  close_reason_ = "the client sent DISCONNECT";
  begin_op(f.get("receipt"), 0, 0, /*disconnect=*/true);
}

void StompSession::on_end_of_input() {
  if (closing_ || disconnecting_) return;  // already on its way out
  disconnecting_ = true;
  begin_op(std::nullopt, 0, 0, /*disconnect=*/true);
}

// ------------------------------------------------------ operations, receipts

void StompSession::on_answer(std::string_view receipt, SubscriptionNo subscribed, bool disconnect) {
  if (!receipt.empty()) write_receipt(receipt);
  if (subscribed.value != 0) release_early(subscribed);
  if (disconnect) {
    closing_ = true;
    transport_.close_after_flush();
  }
}

void StompSession::on_window(bool pause) {
  if (pause) transport_.pause_reading();
  else transport_.resume_reading();
}

void StompSession::on_complete(std::uint64_t op, broker::Outcome outcome) {
  if (op == 0 || closing_) return;
  const bool must_exist = !must_exist_ops_.empty() && must_exist_ops_.erase(op) != 0;
  if (!outcome.ok) {
    std::optional<std::string_view> receipt = receipts_.receipt_of(op);
    // A COMMIT's journaled sends failed: the ERROR answers the COMMIT.
    if (!receipt)
      if (auto commit = transactions_.commit_of(op)) receipt = receipts_.receipt_of(*commit);
    if (outcome.needs_configure && must_exist) {
      // RabbitMQ's words for /amq/queue/ of a queue that does not exist.
      const std::string name = outcome.error.substr(outcome.error.rfind('/') + 1);
      return fail(errors::kNotFound, fmt::format("NOT_FOUND - no queue '{}' in vhost '{}'", name, login_.vhost()),
                  receipt);
    }
    if (outcome.needs_configure) {
      return fail(errors::kConfigureRefused,
                  fmt::format("user '{}' has no configure permission on {} in vhost '{}', and it does not exist yet",
                              login_.user(), outcome.error, login_.vhost()),
                  receipt);
    }
    std::string text = outcome.error;
    return fail(text, {}, receipt);
  }
  if (receipts_.complete(op)) {
    // A committed transaction's acks, held back until its sends were durable.
    if (auto after = transactions_.settles_after(op)) apply_settles(after->second, after->first);
  }
  receipts_.drain();
}

void StompSession::write_receipt(std::string_view receipt) {
  std::string& out = transport_.output();
  Encoder::begin_frame(out, Command::kReceipt);
  Encoder::add_header(out, "receipt-id", receipt, version_, Command::kReceipt);
  Encoder::end_headers(out, 0, false);
  Encoder::end_frame(out);
  transport_.flush();
}

void StompSession::fail(std::string_view message, std::string_view detail, std::optional<std::string_view> receipt) {
  if (closing_) return;
  closing_ = true;
  close_reason_ = fmt::format("the broker sent an ERROR frame ({})", message);
  if (static LogRate rate("ERROR frames sent"); rate.allow())
    spdlog::info("connection {} ({}): ERROR {}{}{}", id_.value, transport_.peer(), log_safe(message),
                 detail.empty() ? "" : ": ", log_safe(detail));
  std::string& out = transport_.output();
  Encoder::begin_frame(out, Command::kError);
  Encoder::add_header(out, "message", message, version_, Command::kError);
  if (receipt) Encoder::add_header(out, "receipt-id", *receipt, version_, Command::kError);
  Encoder::add_header(out, "content-type", "text/plain", version_, Command::kError);
  std::string body = detail.empty() ? std::string(message) : fmt::format("{}: {}", message, detail);
  Encoder::end_headers(out, body.size());
  out += body;
  Encoder::end_frame(out);
  transport_.close_after_flush();
}

// ------------------------------------------------------------- deliveries

void StompSession::on_delivery(SubscriptionNo no, broker::Delivery d) {
  // Nothing follows an ERROR (or a DISCONNECT's RECEIPT): a delivery that
  // arrives while the connection closes is not written. A client-mode one
  // is still held by this consumer on its queue, which takes it back when
  // the connection's subscriptions go (on_closed).
  if (released_ || closing_) return;
  // Unsubscribed meanwhile: the queue took the message back when it
  // processed the UNSUBSCRIBE, so dropping it here loses nothing.
  Subscription* s = subs_.find(no);
  if (s == nullptr) return;
  if (s->awaiting_receipt) {
    s->early.push_back(std::move(d));  // bounded by the subscription's window
    return;
  }
  write_message(*s, std::move(d));
}

void StompSession::release_early(SubscriptionNo no) {
  if (closing_) return;  // see on_delivery
  Subscription* s = subs_.find(no);
  if (s == nullptr) return;
  s->awaiting_receipt = false;
  std::vector<broker::Delivery> early;
  early.swap(s->early);
  for (broker::Delivery& d : early) write_message(*s, std::move(d));
}

Result<std::optional<broker::Schedule>> StompSession::scheduling_of(const stomp::Frame& f,
                                                                    broker::DestinationKind kind) {
  const std::uint64_t max = broker_.options().max_scheduled_messages;
  // (Copied: the frame's headers are views. Almost every SEND has none.)
  std::vector<std::pair<std::string, std::string>> wanted;
  for (const stomp::Header& h : f.headers)
    if (broker::is_scheduling_header(h.name))
      wanted.emplace_back(std::string(h.name), std::string(h.value));
  if (wanted.empty()) return std::optional<broker::Schedule>{};
  auto s = broker::schedule_of(wanted, max == 0 ? UINT64_MAX : max);
  if (!s || !*s) return s;
  if (kind == broker::DestinationKind::kStream)
    return failure(std::string(errors::kUnsupportedHeader), "scheduled delivery to a stream (streams keep append order)");
  if (max != 0 && broker_.scheduled_messages().load(std::memory_order_relaxed) +
                          static_cast<std::int64_t>((*s)->copies()) >
                      static_cast<std::int64_t>(max))
    return failure(std::string(errors::kScheduledLimit),
                   fmt::format("max-scheduled-messages {} reached: no more messages can wait for their due time", max));
  return s;
}

void StompSession::schedule_at_commit(Transaction& tx) {
  // Scheduling starts at COMMIT (as in ActiveMQ): each scheduled send gets
  // its due time now, on a copy (a routed send shares its message).
  std::vector<TxSend> added;
  const std::int64_t now = wall_ms();
  for (TxSend& send : tx.sends) {
    auto s = broker::schedule_of(send.message->headers, UINT64_MAX);
    if (!s || !*s) continue;  // checked at SEND
    broker::MessageRef copy = broker::make_message(*send.message);
    broker::Message& c = copy.writable();
    auto repeats = broker::apply_schedule(**s, c, now, [&] { return broker_.next_message_id(shard_); });
    const bool encoded = !c.encoded_headers_1_2.empty();
    if (encoded) {
      c.encoded_headers_1_2.clear();
      encode_common_headers(c);
    }
    for (broker::MessageRef& r : repeats) {
      if (encoded) encode_common_headers(r.writable());
      added.push_back(TxSend{send.destination, std::move(r)});
    }
    send.message = std::move(copy);
  }
  for (TxSend& a : added) tx.sends.push_back(std::move(a));
}

void StompSession::encode_common_headers(broker::Message& m) {
  std::string& out = m.encoded_headers_1_2;
  const auto v = stomp::Version::k1_2;
  Encoder::add_header(out, "destination", m.destination, v, Command::kMessage);
  Encoder::add_header(out, "message-id", m.id_text, v, Command::kMessage);
  for (const auto& [k, val] : m.headers) Encoder::add_header(out, k, val, v, Command::kMessage);
}

void StompSession::write_message(Subscription& s, broker::Delivery d) {
  ++messages_out_;
  const broker::Message& m = *d.message;
  std::string& out = transport_.output();
  const bool prepared = version_ == stomp::Version::k1_2 && !m.encoded_headers_1_2.empty();
  Encoder::begin_frame(out, Command::kMessage);
  if (!prepared) {
    Encoder::add_header(out, "destination", m.destination, version_, Command::kMessage);
    Encoder::add_header(out, "message-id", m.id_text, version_, Command::kMessage);
  }
  // Escaped once per subscription, not per message.
  if (s.subscription_line.empty()) Encoder::add_header(s.subscription_line, "subscription", s.id, version_, Command::kMessage);
  out += s.subscription_line;
  if (s.mode != AckMode::kAuto && version_ == stomp::Version::k1_2) {
    // "ack:<no>-<seq>": digits need no escaping.
    char ack[48];
    char* end = std::to_chars(ack, ack + 20, s.no.value).ptr;
    *end++ = '-';
    end = std::to_chars(end, ack + sizeof ack, d.seq.value).ptr;
    out += "ack:";
    out.append(ack, end);
    out += '\n';
  }
  if (d.earlier_deliveries > 0) {
    out += "redelivered:true\nx-delivery-count:";
    char count[24];
    out.append(count, std::to_chars(count, count + sizeof count, d.earlier_deliveries).ptr);
    out += '\n';
  } else {
    // Every MESSAGE says whether it is redelivered, as RabbitMQ's do: code
    // written for it reads headers['redelivered'] unconditionally.
    out += "redelivered:false\n";
  }
  if (prepared) {
    // A fan-out's frames share the message's encoded headers and body:
    // large ones are gathered from the message by the socket write rather
    // than copied into every subscriber's output.
    if (m.encoded_headers_1_2.size() >= net::OutputQueue::kReferenceFrom)
      transport_.output_reference(d.message, m.encoded_headers_1_2);
    else
      out += m.encoded_headers_1_2;
  } else {
    for (const auto& [k, v] : m.headers) Encoder::add_header(out, k, v, version_, Command::kMessage);
  }
  Encoder::end_headers(out, m.body.size());
  if (m.body.size() >= net::OutputQueue::kReferenceFrom) transport_.output_reference(d.message, m.body);
  else out += m.body;
  Encoder::end_frame(transport_.output());
  subs_.written(s, std::move(d));
  // May wait for a later turn behind other connections' deliveries.
  transport_.flush_delivery();
}

void StompSession::on_flush_started() { subs_.flush_started(); }

void StompSession::on_flush_done() {
  // Auto-ack windows refill once the frames have been written to the socket:
  // a consumer that stops reading stops receiving and holds at most its window.
  if (released_) return;
  subs_.flush_done([this](Subscription& s, std::uint32_t messages, std::uint64_t bytes) {
    broker_.credit(s.owner, key_of(s), messages, bytes);
  });
}

void StompSession::on_kick(SubscriptionNo no, std::string reason) {
  const Subscription* s = subs_.find(no);
  if (s == nullptr) return;
  if (s->exchange_queue) drop_exchange_queue(*s);
  subs_.forget(no);  // the broker already dropped the subscription
  fail(reason);
}

// ------------------------------------------------------------------ close

void StompSession::on_closed() {
  if (released_) return;
  released_ = true;
  closing_ = true;
  // An open transaction is aborted: its acknowledged messages come back.
  for (Transaction& tx : transactions_.take_all()) {
    for (TxSettle& st : tx.settles) st.action = SettleAction::kRequeue;
    apply_settles(tx.settles, 0);
  }
  release_all();
  // Its temporary queues go with it (after its subscriptions: in order on
  // each queue's shard).
  for (std::string& q : temp_queues_.queues())
    broker_.drop_temporary_queue(broker::Destination{broker::DestinationKind::kQueue, std::move(q), login_.vhost()});
  // After its subscriptions are let go: a new connection with this
  // client-id (which waits for it, see Login::claim_client_id) finds its
  // durable subscriptions free.
  login_.release_client_id(broker_.client_ids(), shard_, id_);
  clients_.remove(shard_, id_);
}

void StompSession::release_all() {
  for (auto& s : subs_.take_all()) {
    broker_.unsubscribe(s->owner, key_of(*s), false, ticket(0));
    if (s->exchange_queue) drop_exchange_queue(*s);
  }
  receipts_.clear();
}

void StompSession::describe(net::ConnectionInfo& i) const {
  if (!login_.user().empty()) i.user = login_.user();
  i.vhost = login_.vhost();
  i.protocol = "STOMP " + std::string(stomp::to_string(version_));
  i.connected_at_ms = connected_at_ms_;
  i.connected = connected_;
  i.subscriptions = subs_.size();
  i.unacked = subs_.unacked_count();
  i.messages_in = messages_in_;
  i.messages_out = messages_out_;
  i.subscription_list = subs_.describe();
}

}  // namespace ferry::session
