#include "net/session.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <unordered_set>

#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "broker/destination_pattern.h"
#include "broker/shard_broker.h"
#include "net/errors.h"
#include "net/output_queue.h"
#include "selector/selector.h"
#include "stomp/boolean.h"
#include "stomp/encoder.h"

namespace ferry::net {

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

Session::Session(const ServerOptions& options, broker::Broker& broker, Transport& transport,
                 ShardId shard, ConnectionId id)
    : options_(options),
      broker_(broker),
      transport_(transport),
      shard_(shard),
      id_(id),
      connected_at_ms_(wall_ms()) {}

Session::~Session() { release_client_id(); }

// ---------------------------------------------------------------- frames in

void Session::on_frame(const stomp::Frame& f) {
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

void Session::on_parse_error(stomp::ParseError e, std::optional<std::string_view> receipt) {
  fail(stomp::describe(e), {}, receipt);
}

void Session::handle_connect(const stomp::Frame& f) {
  auto version = stomp::negotiate(f.get("accept-version"));
  if (!version) {
    std::string& out = transport_.output();
    Encoder::begin_frame(out, Command::kError);
    Encoder::add_header(out, "version", "1.0,1.1,1.2", stomp::Version::k1_0, Command::kError);
    Encoder::add_header(out, "message", errors::kUnsupportedVersion, stomp::Version::k1_0,
                        Command::kError);
    Encoder::add_header(out, "content-type", "text/plain", stomp::Version::k1_0, Command::kError);
    std::string body = "Supported protocol versions are 1.0, 1.1 and 1.2";
    Encoder::end_headers(out, body.size());
    out += body;
    Encoder::end_frame(out);
    closing_ = true;
    transport_.close_after_flush();
    return;
  }
  std::uint32_t cx = 0, cy = 0;  // client: can send every cx, wants every cy
  if (auto hb = f.get("heart-beat")) {
    auto comma = hb->find(',');
    auto a = comma == std::string_view::npos ? std::nullopt : parse_int<std::uint32_t>(hb->substr(0, comma));
    auto b = comma == std::string_view::npos ? std::nullopt : parse_int<std::uint32_t>(hb->substr(comma + 1));
    if (!a || !b) {
      fail(errors::kBadHeartBeat, "expected heart-beat:<ms>,<ms>", f.get("receipt"));
      return;
    }
    cx = *a;
    cy = *b;
  }
  version_ = *version;
  transport_.set_version(version_);
  if (auto host = f.get("host")) host_header_ = std::string(*host);
  if (auto cid = f.get("client-id")) client_id_ = std::string(*cid);
  // STOMP 1.2: each direction beats at the larger of what the sender can
  // do and the receiver wants, none if either says 0. The server's side is
  // its floor: heart-beat-min, or a smaller heart-beat value (0 there turns
  // the direction off), so a client asking 1000,1000 gets 1000,1000 as it
  // would from RabbitMQ or ActiveMQ, not a fixed 10 s that takes 20 s to
  // notice a dead peer.
  const std::uint32_t sx = std::min(options_.heart_beat_send_ms, options_.heart_beat_min_ms);
  const std::uint32_t sy = std::min(options_.heart_beat_recv_ms, options_.heart_beat_min_ms);
  ConnectReply reply;
  reply.send_ms = (options_.heart_beat_send_ms == 0 || cy == 0) ? 0 : std::max(sx, cy);
  reply.recv_ms = (options_.heart_beat_recv_ms == 0 || cx == 0) ? 0 : std::max(sy, cx);
  if (auto r = f.get("receipt")) reply.receipt = std::string(*r);

  auth::Authenticator* authenticator = options_.authenticator;
  if (authenticator == nullptr) {  // no authentication (unit tests): everyone in vhost "/"
    finish_connect(reply);
    return;
  }
  // The host header selects a vhost by name; anything else (a host name,
  // "localhost", an address, no header) means default-vhost, since
  // stomp.py and others send the server's host name there by default.
  vhost_ = authenticator->vhost_for_host(f.get("host"));
  const std::string peer = auth::address_of_peer(transport_.peer());
  auto login = f.get("login");
  if (!login || login->empty()) {
    // As RabbitMQ's stomp.ssl_cert_login: over TLS, a verified client
    // certificate names the user (its CN), with no password to check.
    if (authenticator->options().ssl_cert_login) {
      if (std::string cn = transport_.certificate_name(); !cn.empty()) {
        spdlog::debug("connection {} ({}): login '{}' from its client certificate", id_.value, transport_.peer(), log_safe(cn));
        return on_login(authenticator->authorize(cn, vhost_, peer), std::move(reply));
      }
    }
    // As RabbitMQ's stomp.default_user: no login means default-user, with
    // no password to check (the server's own setting names it).
    const std::string& user = authenticator->options().default_user;
    if (user.empty()) {
      return refuse_later(errors::kAccessRefused, "a login header is required (default-user is empty)",
                          reply.receipt);
    }
    return on_login(authenticator->authorize(user, vhost_, peer), std::move(reply));
  }
  // The password check is slow on purpose: it runs on the authenticator's
  // thread, and the answer comes back to this shard. Frames that follow
  // CONNECT wait unread until then.
  authenticating_ = true;
  transport_.pause_reading();
  // The answer runs on the authenticator's thread: it touches nothing of
  // this session there (the session may be gone), only posts to our shard,
  // where `alive` tells whether the session still exists.
  std::weak_ptr<int> alive = alive_;
  broker::Broker* broker = &broker_;
  const ShardId shard = shard_;
  authenticator->submit(std::string(*login), std::string(f.get("passcode").value_or("")), peer, vhost_,
                        [this, alive, broker, shard, reply = std::move(reply)](auth::LoginResult r) mutable {
                          broker->post(shard, [this, alive, r = std::move(r), reply = std::move(reply)]() mutable {
                            if (alive.expired()) return;
                            on_login(r, std::move(reply));
                          });
                        });
}

void Session::on_login(const auth::LoginResult& r, ConnectReply reply) {
  authenticating_ = false;
  if (closing_) return;
  using auth::LoginStatus;
  switch (r.status) {
    case LoginStatus::kOk:
      user_ = r.user;
      permissions_ = r.permissions;
      finish_connect(reply);
      if (connected_) transport_.resume_reading();  // else waiting for the client-id, or refused
      return;
    case LoginStatus::kBadCredentials:
      // One text for an unknown user and a wrong password (the log, for
      // the operator, names the login tried).
      if (static LogRate rate("refused logins"); rate.allow())
        spdlog::info("connection {} ({}): login '{}' refused: unknown user or wrong passcode", id_.value,
                     transport_.peer(), log_safe(r.user));
      return refuse_later(errors::kAccessRefused, {}, std::move(reply.receipt));
    case LoginStatus::kLoopbackOnly:
      return refuse_later(errors::kLoopbackOnly, fmt::format("user '{}' is in loopback-users", r.user),
                          std::move(reply.receipt));
    case LoginStatus::kNoVhostAccess:
      return refuse_later(errors::kNoVhostAccess,
                          fmt::format("user '{}' has no permissions on vhost '{}'", r.user, vhost_),
                          std::move(reply.receipt));
    case LoginStatus::kThrottled:
      if (static LogRate rate("logins refused for too many failures"); rate.allow())
        spdlog::warn("connection {} ({}): login refused, too many failures from this address", id_.value,
                     transport_.peer());
      return fail(errors::kTooManyLoginFailures, {}, reply.receipt);
    case LoginStatus::kBusy:
      return fail(errors::kLoginBusy, {}, reply.receipt);
  }
}

void Session::refuse_later(std::string_view message, std::string detail, std::optional<std::string> receipt) {
  spdlog::debug("connection {} ({}): login refused{}{}; ERROR follows after login-failure-delay", id_.value,
                transport_.peer(), detail.empty() ? "" : ": ", log_safe(detail));
  const std::uint32_t delay =
      options_.authenticator ? options_.authenticator->options().login_failure_delay_ms : 0;
  if (delay == 0) return fail(message, detail, receipt);
  // Not blocking: the connection waits (unread) and tick() sends the ERROR.
  transport_.pause_reading();
  refuse_at_ms_ = mono_ms() + delay;
  refuse_message_ = std::string(message);
  refuse_detail_ = std::move(detail);
  refuse_receipt_ = std::move(receipt);
}

void Session::tick(std::int64_t now_ms) {
  if (client_id_wait_until_ms_ != 0 && !closing_) {
    const ConnectReply reply = *client_id_reply_;
    finish_connect(reply);  // claims again: connects, waits on, or refuses
    if (connected_) transport_.resume_reading();
  }
  if (refuse_at_ms_ == 0 || now_ms < refuse_at_ms_) return;
  refuse_at_ms_ = 0;
  fail(refuse_message_, refuse_detail_, refuse_receipt_);
}

void Session::finish_connect(const ConnectReply& reply) {
  if (!claim_client_id(reply)) return;
  transport_.set_heart_beat(reply.send_ms, reply.recv_ms);
  connected_ = true;

  std::string& out = transport_.output();
  Encoder::begin_frame(out, Command::kConnected);
  Encoder::add_header(out, "version", stomp::to_string(version_), version_, Command::kConnected);
  Encoder::add_header(out, "heart-beat", fmt::format("{},{}", reply.send_ms, reply.recv_ms), version_,
                      Command::kConnected);
  // server-header: some clients pick their dialect from it (docs/dialects.md);
  // empty hides it, as RabbitMQ's hide_server_info.
  if (!options_.server_header.empty())
    Encoder::add_header(out, "server", options_.server_header, version_, Command::kConnected);
  Encoder::add_header(out, "session", fmt::format("ferry-{}-{}", shard_.value, id_.value), version_,
                      Command::kConnected);
  Encoder::end_headers(out, 0, false);
  Encoder::end_frame(out);
  transport_.flush();
  spdlog::debug("connection {} CONNECT from {}: STOMP {}, user '{}', host '{}' (vhost {}), heart-beat {},{}",
                id_.value, transport_.peer(), stomp::to_string(version_), log_safe(user_), log_safe(host_header_), log_safe(vhost_),
                reply.send_ms, reply.recv_ms);
  if (reply.receipt) write_receipt(*reply.receipt);
}

bool Session::may(auth::Access a, const broker::Destination& d) const {
  if (options_.authenticator == nullptr) return true;
  if (permissions_ == nullptr) return false;
  d.to_string(destination_text_);
  PermissionAnswer& answer = answers_[static_cast<std::size_t>(a)];
  if (!answer.known || answer.destination != destination_text_) {
    answer.allowed = permissions_->allows(a, destination_text_);
    answer.destination = destination_text_;
    answer.known = true;
  }
  return answer.allowed;
}

bool Session::permitted(auth::Access a, const broker::Destination& d, std::optional<std::string_view> receipt) {
  if (may(a, d)) return true;
  std::string_view message = a == auth::Access::kWrite  ? errors::kWriteRefused
                             : a == auth::Access::kRead ? errors::kReadRefused
                                                        : errors::kConfigureRefused;
  fail(message, fmt::format("user '{}' has no {} permission on {} in vhost '{}'", user_, auth::to_string(a),
                            d.to_string(), vhost_),
       receipt);
  return false;
}

std::shared_ptr<const broker::Destination> Session::destination_of(const stomp::Frame& f) {
  auto text = f.get("destination");
  if (!text) {
    fail(errors::kMissingDestination, fmt::format("{} requires a destination header",
                                                  stomp::to_string(f.command)),
         f.get("receipt"));
    return nullptr;
  }
  // A bare name's meaning can depend on the frame's destination-type: those
  // are not cached.
  const bool cacheable = text->starts_with('/') || !f.get("destination-type");
  if (cacheable)
    for (const ParsedDestination& p : parsed_)
      if (p.destination != nullptr && p.text == *text) return p.destination;
  auto d = parse_destination(f, *text);
  if (!d) {
    fail(errors::kUnknownDestination,
         fmt::format("'{}' is not a destination: use /queue/NAME, /topic/NAME or a bare NAME "
                     "(destination-type ANYCAST or MULTICAST, if any)",
                     *text),
         f.get("receipt"));
    return nullptr;
  }
  if (!cacheable) return std::make_shared<const broker::Destination>(std::move(*d));
  ParsedDestination& slot = parsed_[parsed_next_++ % parsed_.size()];
  slot.text.assign(*text);
  slot.destination = std::make_shared<const broker::Destination>(std::move(*d));
  return slot.destination;
}

std::optional<broker::Destination> Session::parse_destination(const stomp::Frame& f, std::string_view text) const {
  if (text.empty() || text.starts_with('/')) return broker::parse_destination(text, vhost_);
  // ActiveMQ reads an unprefixed name as a queue (`ActiveMQ.DLQ`); Artemis
  // as an address, routed as the destination-type header says.
  broker::DestinationKind kind = options_.default_destination_kind;
  if (auto type = f.get("destination-type")) {
    if (*type == "ANYCAST") kind = broker::DestinationKind::kQueue;
    else if (*type == "MULTICAST") kind = broker::DestinationKind::kTopic;
    else return std::nullopt;
  }
  broker::Destination d;
  d.kind = kind;
  d.name = std::string(text);
  d.vhost = vhost_;
  return d;
}

broker::MessageRef Session::build_message(const stomp::Frame& f, const broker::Destination& d) {
  broker::MessageRef ref = broker::make_message_with_header_slots(f.headers.size());
  broker::Message* m = &ref.writable();
  m->id = broker_.next_message_id(shard_);
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

void Session::handle_send(const stomp::Frame& f) {
  // The broker names each message: a SEND naming one is refused, as
  // RabbitMQ does, rather than silently renamed. The other headers the
  // broker sets on MESSAGE (subscription, ack, redelivered,
  // x-delivery-count) are dropped from the SEND (docs/dialects.md).
  if (f.get("message-id"))
    return fail(errors::kReservedHeader, "'message-id' is not allowed on 'SEND' (the broker sets it)",
                f.get("receipt"));
  auto d = destination_of(f);
  if (!d) return;
  if (!permitted(auth::Access::kWrite, *d, f.get("receipt"))) return;
  std::uint8_t priority = 4;
  if (auto p = f.get("priority")) {
    auto v = parse_int<int>(*p);
    if (!v || *v < 0) return fail(errors::kBadPriority, *p, f.get("receipt"));
    priority = static_cast<std::uint8_t>(std::min(*v, 9));
  }
  std::int64_t expires = 0;
  if (auto e = f.get("expires")) {
    auto v = parse_int<std::int64_t>(*e);
    if (!v || *v < 0) return fail(errors::kBadExpires, *e, f.get("receipt"));
    expires = *v;
  }
  bool bad_flag = false;
  const std::optional<bool> persistent = boolean_header(f, "persistent", bad_flag);
  if (bad_flag) return;
  bool tx_failed = false;
  Transaction* tx = transaction_of(f, tx_failed);
  if (tx_failed) return;

  ++messages_in_;
  auto m = build_message(f, *d);
  broker::Message* mutable_m = &m.writable();
  mutable_m->priority = priority;
  mutable_m->expires_ms = expires;
  // Persistent unless the SEND says otherwise, where the configuration
  // makes it the default (the shipped default: every queue and topic).
  if (persistent) {
    mutable_m->persistent = *persistent;
  } else {
    for (const std::string& pattern : options_.broker.persistent_default)
      if (broker::matches_pattern(pattern, mutable_m->destination)) mutable_m->persistent = true;
  }
  if (mutable_m->persistent) mutable_m->headers.emplace_back("persistent", "true");
  // A topic message is encoded once for all its subscribers (most speak 1.2).
  if (d->kind == broker::DestinationKind::kTopic) encode_common_headers(*mutable_m);

  if (tx != nullptr) {
    // A transaction's sends reach their queues only after COMMIT, too late
    // to refuse one: sending in a transaction needs configure as well
    // (docs/security.md).
    if (!permitted(auth::Access::kConfigure, *d, f.get("receipt"))) return;
    tx->sends.push_back(TxSend{*d, std::move(m)});
    begin_op(f.get("receipt"), 0);
    return;
  }
  const std::uint64_t bytes = f.body.size() + 256;
  std::uint64_t op = begin_op(f.get("receipt"), 1, bytes);
  const bool may_create = may(auth::Access::kConfigure, *d);
  broker_.publish(std::move(d), std::move(m), ticket(op), may_create);
}

std::optional<bool> Session::boolean_header(const stomp::Frame& f, std::string_view name, bool& failed) {
  auto value = f.get(name);
  if (!value) return std::nullopt;
  auto b = stomp::parse_boolean(*value);
  if (!b) {
    failed = true;
    fail(fmt::format("{} {}", errors::kBadBoolean, name),
         fmt::format("'{}:{}': expected true or false (any letter case)", name, *value), f.get("receipt"));
  }
  return b;
}

std::optional<broker::Window> Session::window_of(const stomp::Frame& f) {
  broker::Window w;
  std::int64_t messages = 0;
  for (std::string_view name : {"prefetch-count", "activemq.prefetchSize"}) {
    if (auto v = f.get(name)) {
      auto n = parse_int<std::int64_t>(*v);
      if (!n) return std::nullopt;
      messages = *n;
      break;
    }
  }
  if (auto credit = f.get("credit")) {  // Apollo: credit:MESSAGES[,BYTES]
    auto comma = credit->find(',');
    auto n = parse_int<std::int64_t>(credit->substr(0, comma));
    if (!n) return std::nullopt;
    if (messages <= 0) messages = *n;
    if (comma != std::string_view::npos) {
      auto b = parse_int<std::int64_t>(credit->substr(comma + 1));
      if (!b) return std::nullopt;
      if (*b > 0) w.bytes = static_cast<std::uint64_t>(*b);
    }
  }
  if (auto cws = f.get("consumer-window-size")) {  // Artemis: bytes, -1 = unbounded
    auto b = parse_int<std::int64_t>(*cws);
    if (!b) return std::nullopt;
    if (*b > 0) w.bytes = static_cast<std::uint64_t>(*b);
  }
  if (messages <= 0) messages = options_.broker.default_prefetch;
  w.messages = static_cast<std::uint32_t>(
      std::min<std::int64_t>(messages, options_.broker.max_unacked));
  if (w.messages == 0) w.messages = 1;
  return w;
}

std::optional<broker::DurableSubscription> Session::durable_of(const stomp::Frame& f,
                                                             const broker::Destination& d,
                                                             std::string_view id, std::string& error) {
  broker::DurableSubscription s;
  s.vhost = d.vhost;
  s.topic = d.name;
  s.owner = user_;  // who creates it owns it; only they may attach or delete
  // shared:true asks to share the subscription with other consumers of the
  // same user (docs/behaviour.md, "Durable topic subscriptions").
  std::optional<bool> shared;
  if (auto v = f.get("shared")) {
    auto is = [&](std::string_view word) {
      return std::equal(v->begin(), v->end(), word.begin(), word.end(),
                        [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
    };
    if (!is("true") && !is("false")) {
      error = "shared must be true or false, not '" + std::string(*v) + "'";
      return std::nullopt;
    }
    shared = is("true");
  }
  // ActiveMQ: client-id on CONNECT + activemq.subscriptionName.
  // Artemis: client-id + durable-subscription-name (or durable-subscriber-name).
  // Exclusive, unless shared:true (JMS 2.0's shared durable subscription:
  // named by client-id + name when a client-id is given, else by the name).
  for (std::string_view header :
       {"activemq.subscriptionName", "durable-subscription-name", "durable-subscriber-name"}) {
    auto name = f.get(header);
    if (!name) continue;
    if (name->empty()) {
      error = std::string(header) + " is empty";
      return std::nullopt;
    }
    s.shared = shared.value_or(false);
    if (client_id_.empty() && !s.shared) {
      error = std::string(header) + " needs a client-id header on CONNECT (or shared:true)";
      return std::nullopt;
    }
    s.name = client_id_.empty() ? std::string(*name) : client_id_ + ":" + std::string(*name);
    return s;
  }
  // RabbitMQ's durable subscription is a queue several consumers may share.
  s.shared = shared.value_or(true);
  // RabbitMQ: durable:true (or persistent:true) and auto-delete:false; the
  // subscription is named by x-queue-name, else by its id.
  // (handle_subscribe checked that these are booleans, in any letter case.)
  auto flag = f.get("durable");
  if (!flag) flag = f.get("persistent");
  if (!flag || stomp::parse_boolean(*flag) != true) return std::nullopt;
  if (auto ad = f.get("auto-delete"); ad && stomp::parse_boolean(*ad) == true) {
    error = "durable:true with auto-delete:true would not survive the subscriber; use auto-delete:false";
    return std::nullopt;
  }
  if (auto q = f.get("x-queue-name"); q && !q->empty()) s.name = std::string(*q);
  else if (!f.get("id")) {
    error = "durable:true needs an id header to name the subscription";
    return std::nullopt;
  } else s.name = std::string(id);
  return s;
}

void Session::handle_subscribe(const stomp::Frame& f) {
  auto receipt = f.get("receipt");
  auto d = destination_of(f);
  if (!d) return;
  if (!permitted(auth::Access::kRead, *d, receipt)) return;
  bool bad_flag = false;
  for (std::string_view name : kSubscribeBooleans) {
    boolean_header(f, name, bad_flag);
    if (bad_flag) return;
  }
  std::string id;
  if (auto v = f.get("id")) {
    id = std::string(*v);
  } else if (version_ == stomp::Version::k1_0 || !options_.strict_subscription_id) {
    // 1.0: the id is optional; the destination names it. RabbitMQ does the
    // same at 1.1 and 1.2 (stomp-php's subscribe($destination) sends no id);
    // ACK, NACK and UNSUBSCRIBE then name the subscription by destination.
    id = d->to_string();
  } else {
    return fail(errors::kMissingId,
                "SUBSCRIBE requires an id header in STOMP 1.1 and 1.2 (strict-subscription-id)", receipt);
  }
  if (subs_by_id_.contains(id) || browsers_.contains(id))
    return fail(errors::kDuplicateSubscription, id, receipt);
  if (subs_by_id_.size() + browsers_.size() >= options_.max_subscriptions)
    return fail(errors::kTooManySubscriptions, {}, receipt);
  AckMode mode = AckMode::kAuto;
  if (auto a = f.get("ack")) {
    if (*a == "auto") mode = AckMode::kAuto;
    else if (*a == "client") mode = AckMode::kClient;
    else if (*a == "client-individual") mode = AckMode::kClientIndividual;
    else return fail(errors::kBadAckMode, fmt::format("'{}': use auto, client or client-individual", *a), receipt);
  }
  std::optional<broker::DurableSubscription> durable;
  if (d->kind == broker::DestinationKind::kTopic) {
    std::string error;
    durable = durable_of(f, *d, id, error);
    if (!error.empty()) return fail(errors::kBadDurable, error, receipt);
  }
  // ActiveMQ's and Artemis' JMS selector: a typo is an ERROR naming the
  // position, never a subscription that silently matches nothing.
  broker::SelectorRef selector;
  if (auto text = f.get("selector")) {
    auto parsed = selector::Selector::parse(*text);
    if (!parsed.ok())  // the position in `message` too: PHP's Stomp::error() shows only that
      return fail(fmt::format("{} at position {}", errors::kInvalidSelector, parsed.error().position),
                  parsed.error().detail, receipt);
    selector = parsed.selector();
    if (auto b = f.get("browser"); selector && b && stomp::parse_boolean(*b) == true)
      return fail(errors::kBadBrowser, "a browser cannot have a selector (it would be ignored)", receipt);
  }
  if (auto b = f.get("browser"); b && stomp::parse_boolean(*b) == true) {
    if (d->kind != broker::DestinationKind::kQueue)
      return fail(errors::kBadBrowser, fmt::format("{} is a topic: only a queue can be browsed", d->to_string()),
                  receipt);
    return browse(*d, std::move(id), receipt);
  }
  auto window = window_of(f);
  if (!window) return fail(errors::kBadWindow, {}, receipt);
  // An auto-ack window is refilled as frames are written, so what it bounds
  // is our output buffer: cap it in bytes too, or a consumer that stops
  // reading would make us buffer window x message size.
  if (mode == AckMode::kAuto && (window->bytes == 0 || window->bytes > options_.max_write_buffer))
    window->bytes = options_.max_write_buffer;

  auto sub = std::make_unique<Subscription>();
  sub->no = SubscriptionNo(++next_sub_no_);
  sub->id = id;
  sub->destination = *d;
  sub->owner = broker_.owner_of(*d);
  sub->mode = mode;
  sub->durable = durable.has_value();
  if (durable) sub->durable_name = durable->name;
  sub->prefetch = window->messages;
  Subscription& s = *sub;
  // Clients such as PHP's extension wait for the RECEIPT and fail if a
  // MESSAGE comes first, so deliveries wait until the RECEIPT is written.
  s.awaiting_receipt = receipt.has_value();
  subs_[s.no] = sub.get();
  subs_by_id_.emplace(id, std::move(sub));
  std::uint64_t op = begin_op(receipt, 1, 0, false, s.no);
  broker_.subscribe(s.destination, key_of(s), mode, *window, std::move(durable), ticket(op),
                    may(auth::Access::kConfigure, s.destination), std::move(selector));
}

void Session::handle_unsubscribe(const stomp::Frame& f) {
  auto receipt = f.get("receipt");
  std::string id;
  if (auto v = f.get("id")) id = std::string(*v);
  else if (auto dest = f.get("destination");
           dest && (version_ == stomp::Version::k1_0 || !options_.strict_subscription_id)) {
    // A subscription made without id is named by its destination (above).
    auto d = parse_destination(f, *dest);
    id = d ? d->to_string() : std::string(*dest);
  } else {
    return fail(errors::kMissingId, "UNSUBSCRIBE requires an id header", receipt);
  }
  // Deleting a durable subscription, in each dialect's words.
  bool bad_flag = false;
  const std::optional<bool> durable_flag = boolean_header(f, "durable", bad_flag);
  if (bad_flag) return;
  const std::optional<bool> persistent_flag = boolean_header(f, "persistent", bad_flag);
  if (bad_flag) return;
  const bool remove_durable = f.get("activemq.subscriptionName") || f.get("durable-subscription-name") ||
                              f.get("durable-subscriber-name") || durable_flag == true ||
                              persistent_flag == true;
  if (browsers_.erase(id) != 0) {  // a browser holds nothing
    begin_op(receipt, 0);
    return;
  }
  auto it = subs_by_id_.find(id);
  if (it == subs_by_id_.end()) {
    if (remove_durable) return remove_inactive_durable(f, receipt);
    return fail(errors::kUnknownSubscription, id, receipt);
  }
  // Deleting a durable subscription deletes what it holds: configure.
  if (remove_durable && it->second->durable &&
      !permitted(auth::Access::kConfigure, it->second->destination, receipt))
    return;
  std::unique_ptr<Subscription> s = std::move(it->second);
  subs_by_id_.erase(it);
  subs_.erase(s->no);
  // The queue takes back whatever the subscription still held.
  std::uint64_t op = begin_op(receipt, 1);
  broker_.unsubscribe(s->owner, key_of(*s), remove_durable && s->durable, ticket(op));
}

void Session::browse(const broker::Destination& d, std::string id, std::optional<std::string_view> receipt) {
  browsers_.insert(id);
  const std::uint64_t op = begin_op(receipt, 1);
  // The snapshot is taken on the queue's shard and written here. The
  // session may be gone when it comes back: `alive` tells (as for logins).
  std::weak_ptr<int> alive = alive_;
  broker::Broker* broker = &broker_;
  const ShardId home = shard_, owner = broker_.owner_of(d);
  const std::size_t limit = options_.broker.max_unacked;
  broker_.post(owner, [this, alive, broker, home, owner, d, id = std::move(id), op, limit]() mutable {
    auto messages = broker->local(owner).browse_queue(d, limit);
    broker->post(home, [this, alive, d = std::move(d), id = std::move(id), op,
                        messages = std::move(messages)]() mutable {
      if (alive.expired()) return;
      on_browsed(d, id, op, std::move(messages));
    });
  });
}

void Session::on_browsed(const broker::Destination& d, const std::string& id, std::uint64_t op,
                         std::optional<std::vector<broker::BrowsedMessage>> messages) {
  if (closing_ || released_) return;
  on_complete(op, broker::Outcome::success());  // the SUBSCRIBE's RECEIPT first
  if (closing_ || !browsers_.contains(id)) return;  // unsubscribed meanwhile
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

void Session::remove_inactive_durable(const stomp::Frame& f, std::optional<std::string_view> receipt) {
  auto dest = f.get("destination");
  std::optional<broker::Destination> d;
  if (dest) d = broker::parse_destination(*dest, vhost_);
  if (!d || d->kind != broker::DestinationKind::kTopic) {
    return fail(errors::kBadDurable,
                "to delete a durable subscription that is not active on this connection, "
                "UNSUBSCRIBE needs its topic in the destination header",
                receipt);
  }
  if (!permitted(auth::Access::kConfigure, *d, receipt)) return;
  std::string error;
  auto durable = durable_of(f, *d, f.get("id").value_or(""), error);
  if (!durable) return fail(errors::kBadDurable, error.empty() ? "not a durable subscription" : error, receipt);
  std::uint64_t op = begin_op(receipt, 1);
  broker_.remove_durable(*durable, ticket(op));
}

// `id` (1.2) and `ack` carry our ack tag "<subscription-no>-<seq>": the
// subscription (if it still exists) and the sequence that header names.
std::optional<Session::TaggedDelivery> Session::tagged(const stomp::Frame& f, std::string_view header) const {
  auto tag = f.get(header);
  if (!tag) return std::nullopt;
  auto dash = tag->find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto no = parse_int<std::uint32_t>(tag->substr(0, dash));
  auto seq = parse_int<std::uint64_t>(tag->substr(dash + 1));
  if (!no || !seq) return std::nullopt;
  auto it = subs_.find(SubscriptionNo(*no));
  if (it == subs_.end()) return std::nullopt;
  return TaggedDelivery{it->second, *seq};
}

std::optional<Session::AckTarget> Session::resolve_ack(const stomp::Frame& f) {
  for (std::string_view name : {"id", "ack"}) {
    auto t = tagged(f, name);
    if (!t) continue;
    auto& held = t->sub->held;
    auto pos = std::lower_bound(held.begin(), held.end(), t->seq,
                                [](const Held& h, std::uint64_t s) { return h.seq.value < s; });
    if (pos != held.end() && pos->seq.value == t->seq)
      return AckTarget{t->sub, static_cast<std::size_t>(pos - held.begin())};
  }
  if (auto mid = f.get("message-id")) {
    auto only = f.get("subscription");
    for (auto& [no, s] : subs_) {
      if (only && s->id != *only) continue;
      for (std::size_t i = 0; i < s->held.size(); ++i)
        if (s->held[i].message->id_text == *mid) return AckTarget{s, i};
    }
  }
  return std::nullopt;
}

bool Session::covered_by_cumulative_ack(const stomp::Frame& f) {
  for (std::string_view name : {"id", "ack"}) {
    auto t = tagged(f, name);
    if (!t) continue;
    return t->sub->mode == AckMode::kClient && t->seq <= t->sub->acked_through.value;
  }
  // 1.0/1.1 clients name the message by message-id: look it up among the ids
  // the subscription's cumulative ACKs took along (each only once).
  auto mid = f.get("message-id");
  if (!mid) return false;
  auto only = f.get("subscription");
  for (auto& [no, s] : subs_) {
    if (s->mode != AckMode::kClient || (only && s->id != *only)) continue;
    if (s->covered_ids.take(*mid)) return true;
  }
  return false;
}

// client mode is cumulative: "the acknowledgment operates on the message
// specified in the ACK frame and all messages sent to the subscription before
// the ACK'ed message" (STOMP 1.2). Sent before, i.e. written before: not the
// same as an earlier sequence, because a journaled delivery waits for its
// delivery count to be on disk and can be written after a later
// non-persistent one. Taking it along would ack a message the client may
// never have read (and lose it if the client then dies).
void Session::take_cumulative(Subscription& s, std::size_t index, bool ack, DeliverySeqs& seqs) {
  const std::uint64_t named_written = s.held[index].written;
  const DeliverySeq named = s.held[index].seq;
  if (ack && named.value > s.acked_through.value) s.acked_through = named;
  std::size_t keep = 0;
  for (std::size_t i = 0; i < s.held.size(); ++i) {
    Held& h = s.held[i];
    if (h.written <= named_written) {
      seqs.push_back(h.seq);
      if (ack && h.seq.value != named.value) s.covered_ids.remember(h.message->id_text);
      continue;
    }
    if (keep != i) s.held[keep] = std::move(h);
    ++keep;
  }
  s.held.resize(keep);
}

Session::Transaction* Session::transaction_of(const stomp::Frame& f, bool& failed) {
  failed = false;
  auto name = f.get("transaction");
  if (!name) return nullptr;
  auto it = transactions_.find(*name);
  if (it == transactions_.end()) {
    failed = true;
    fail(errors::kUnknownTransaction, *name, f.get("receipt"));
    return nullptr;
  }
  if (++it->second.frames > options_.max_transaction_size) {
    failed = true;
    fail(errors::kTransactionTooLarge, *name, f.get("receipt"));
    return nullptr;
  }
  return &it->second;
}

void Session::handle_ack(const stomp::Frame& f, bool ack) {
  auto receipt = f.get("receipt");
  if (!f.get("id") && !f.get("ack") && !f.get("message-id"))
    return fail(errors::kMissingAckId, {}, receipt);
  auto target = resolve_ack(f);
  if (!target && ack && covered_by_cumulative_ack(f)) {
    // A client-mode ACK naming a delivery that an earlier cumulative ACK
    // already took (a client acking every MESSAGE after acking a later one):
    // redundant, so nothing to do but the RECEIPT.
    begin_op(receipt, 0);
    return;
  }
  bool bad_flag = false;
  const std::optional<bool> requeue = ack ? std::nullopt : boolean_header(f, "requeue", bad_flag);
  if (bad_flag) return;
  if (!target) {
    std::string which(f.get("id").value_or(f.get("ack").value_or(f.get("message-id").value_or(""))));
    return fail(errors::kUnknownAckId, which, receipt);
  }
  bool tx_failed = false;
  Transaction* tx = transaction_of(f, tx_failed);
  if (tx_failed) return;

  Subscription& s = *target->sub;
  DeliverySeqs seqs;
  if (s.mode == AckMode::kClient) {
    take_cumulative(s, target->index, ack, seqs);
  } else {
    // client-individual: this one only.
    seqs.push_back(s.held[target->index].seq);
    s.held.erase(s.held.begin() + static_cast<std::ptrdiff_t>(target->index));
  }

  SettleAction action = SettleAction::kAck;
  if (!ack) action = requeue == false ? SettleAction::kDeadLetter : SettleAction::kRequeue;
  if (tx != nullptr) {
    // Held until COMMIT/ABORT, but no longer counted in the window so a
    // one-at-a-time consumer can go on inside its transaction.
    tx->settles.push_back(TxSettle{s.no, seqs, action});
    std::uint64_t op = begin_op(receipt, 1);
    settle(s, std::move(seqs), SettleAction::kRelease, op);
    return;
  }
  std::uint64_t op = begin_op(receipt, 1);
  settle(s, std::move(seqs), action, op);
}

void Session::settle(Subscription& s, DeliverySeqs seqs, SettleAction action,
                     std::uint64_t op) {
  broker_.settle(s.owner, key_of(s), std::move(seqs), action, ticket(op));
}

void Session::handle_begin(const stomp::Frame& f) {
  auto receipt = f.get("receipt");
  auto name = f.get("transaction");
  if (!name) return fail(errors::kMissingTransaction, {}, receipt);
  if (transactions_.contains(*name)) return fail(errors::kDuplicateTransaction, *name, receipt);
  if (transactions_.size() >= options_.max_transactions)
    return fail(errors::kTooManyTransactions, {}, receipt);
  transactions_.emplace(std::string(*name), Transaction{});
  begin_op(receipt, 0);
}

std::optional<Session::Transaction> Session::take_transaction(const stomp::Frame& f) {
  auto receipt = f.get("receipt");
  auto name = f.get("transaction");
  if (!name) {
    fail(errors::kMissingTransaction, {}, receipt);
    return std::nullopt;
  }
  auto it = transactions_.find(*name);
  if (it == transactions_.end()) {
    fail(errors::kUnknownTransaction, *name, receipt);
    return std::nullopt;
  }
  Transaction tx = std::move(it->second);
  transactions_.erase(it);
  return tx;
}

void Session::handle_commit(const stomp::Frame& f) {
  auto receipt = f.get("receipt");
  auto taken = take_transaction(f);
  if (!taken) return;
  Transaction& tx = *taken;

  // Persistent sends (to queues, and to topics for their durable
  // subscriptions) are journaled as one atomic record: after a crash all of
  // them or none exist. The transaction's acks follow only once that record
  // is durable, so a crash never keeps the acks without the sends.
  std::vector<std::pair<broker::Destination, broker::MessageRef>> atomic;
  std::vector<TxSend> rest;
  for (TxSend& send : tx.sends) {
    if (broker_.journaled() && send.message->persistent) {
      atomic.emplace_back(std::move(send.destination), std::move(send.message));
    } else {
      rest.push_back(std::move(send));
    }
  }
  std::uint32_t parts = static_cast<std::uint32_t>(rest.size());
  for (const TxSettle& st : tx.settles)
    if (subs_.contains(st.sub)) ++parts;
  std::uint64_t batch_op = 0;
  if (!atomic.empty()) batch_op = begin_op(std::nullopt, 1);
  std::uint64_t op = begin_op(receipt, parts);
  for (TxSend& send : rest) broker_.publish(send.destination, std::move(send.message), ticket(op));
  if (batch_op != 0) {
    settles_after_.emplace(batch_op, std::make_pair(op, std::move(tx.settles)));
    broker_.publish_atomic(std::move(atomic), ticket(batch_op));
    return;
  }
  for (TxSettle& st : tx.settles) {
    auto sit = subs_.find(st.sub);
    // An unsubscribed subscription's held messages went back to its queue.
    if (sit == subs_.end()) continue;
    settle(*sit->second, std::move(st.seqs), st.action, op);
  }
}

void Session::abort_transaction(Transaction& tx) {
  for (TxSettle& st : tx.settles) {
    auto sit = subs_.find(st.sub);
    if (sit == subs_.end()) continue;
    Subscription& s = *sit->second;
    broker_.settle(s.owner, key_of(s), std::move(st.seqs), SettleAction::kRequeue, ticket(0));
  }
  tx.settles.clear();
  tx.sends.clear();
}

void Session::handle_abort(const stomp::Frame& f) {
  auto receipt = f.get("receipt");
  auto taken = take_transaction(f);
  if (!taken) return;
  Transaction& tx = *taken;
  std::uint32_t parts = 0;
  for (const TxSettle& st : tx.settles)
    if (subs_.contains(st.sub)) ++parts;
  std::uint64_t op = begin_op(receipt, parts);
  // The messages the transaction acknowledged are delivered again.
  for (TxSettle& st : tx.settles) {
    auto sit = subs_.find(st.sub);
    if (sit == subs_.end()) continue;
    settle(*sit->second, std::move(st.seqs), SettleAction::kRequeue, op);
  }
}

void Session::handle_disconnect(const stomp::Frame& f) {
  disconnecting_ = true;
  begin_op(f.get("receipt"), 0, 0, /*disconnect=*/true);
}

void Session::on_end_of_input() {
  if (closing_ || disconnecting_) return;  // already on its way out
  disconnecting_ = true;
  begin_op(std::nullopt, 0, 0, /*disconnect=*/true);
}

// ------------------------------------------------------ operations, receipts

std::uint64_t Session::begin_op(std::optional<std::string_view> receipt, std::uint32_t remaining,
                                std::uint64_t bytes, bool disconnect, SubscriptionNo subscribed) {
  const std::uint64_t op = next_op_++;
  if (remaining == 0 && pending_.empty()) {
    // Nothing earlier outstanding: answer at once.
    if (receipt) write_receipt(*receipt);
    if (disconnect) {
      closing_ = true;
      transport_.close_after_flush();
    }
    return op;
  }
  PendingOp p;
  p.op = op;
  p.remaining = remaining;
  if (receipt) {
    if (!spare_receipts_.empty()) {
      p.receipt = std::move(spare_receipts_.back());
      spare_receipts_.pop_back();
    }
    p.receipt.assign(*receipt);
  }
  p.bytes = bytes;
  p.disconnect = disconnect;
  p.subscribed = subscribed;
  pending_.push_back(std::move(p));
  in_flight_bytes_ += bytes;
  if (!paused_ && in_flight_bytes_ > options_.producer_window_size) {
    paused_ = true;
    transport_.pause_reading();
  }
  return op;
}

void Session::on_complete(std::uint64_t op, broker::Outcome outcome) {
  if (op == 0 || closing_) return;
  if (!outcome.ok) {
    std::optional<std::string_view> receipt;
    for (const PendingOp& p : pending_)
      if (p.op == op && !p.receipt.empty()) receipt = p.receipt;
    if (outcome.needs_configure) {
      fail(errors::kConfigureRefused,
           fmt::format("user '{}' has no configure permission on {} in vhost '{}', and it does not exist yet",
                       user_, outcome.error, vhost_),
           receipt);
      return;
    }
    std::string text = outcome.error;
    fail(text, {}, receipt);
    return;
  }
  FERRY_ASSERT(!pending_.empty() && op >= pending_.front().op);
  // Ops are numbered consecutively, but ops answered at once are not queued,
  // so search from the front (the oldest are the likeliest to complete).
  auto it = std::lower_bound(pending_.begin(), pending_.end(), op,
                             [](const PendingOp& p, std::uint64_t o) { return p.op < o; });
  FERRY_ASSERT(it != pending_.end() && it->op == op && it->remaining > 0);
  if (--it->remaining == 0) {
    in_flight_bytes_ -= it->bytes;
    it->bytes = 0;
    // A committed transaction's acks, held back until its sends were durable.
    if (auto after = settles_after_.find(op); after != settles_after_.end()) {
      auto [commit_op, settles] = std::move(after->second);
      settles_after_.erase(after);
      for (TxSettle& st : settles) {
        auto sit = subs_.find(st.sub);
        if (sit == subs_.end()) continue;
        settle(*sit->second, std::move(st.seqs), st.action, commit_op);
      }
    }
  }
  drain_ops();
  if (paused_ && in_flight_bytes_ <= options_.producer_window_size / 2) {
    paused_ = false;
    transport_.resume_reading();
  }
}

void Session::drain_ops() {
  while (!pending_.empty() && pending_.front().remaining == 0) {
    PendingOp p = std::move(pending_.front());
    pending_.pop_front();
    if (!p.receipt.empty()) {
      write_receipt(p.receipt);
      if (spare_receipts_.size() < kSpareReceipts && p.receipt.capacity() <= kMaxSpareReceipt) {
        p.receipt.clear();
        spare_receipts_.push_back(std::move(p.receipt));
      }
    }
    if (p.subscribed.value != 0) release_early(p.subscribed);
    if (p.disconnect) {
      closing_ = true;
      transport_.close_after_flush();
      return;
    }
  }
}

void Session::write_receipt(std::string_view receipt) {
  std::string& out = transport_.output();
  Encoder::begin_frame(out, Command::kReceipt);
  Encoder::add_header(out, "receipt-id", receipt, version_, Command::kReceipt);
  Encoder::end_headers(out, 0, false);
  Encoder::end_frame(out);
  transport_.flush();
}

void Session::fail(std::string_view message, std::string_view detail,
                   std::optional<std::string_view> receipt) {
  if (closing_) return;
  closing_ = true;
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

void Session::on_delivery(SubscriptionNo no, broker::Delivery d) {
  // Nothing follows an ERROR (or a DISCONNECT's RECEIPT): a delivery that
  // arrives while the connection closes is not written. A client-mode one
  // is still held by this consumer on its queue, which takes it back when
  // the connection's subscriptions go (on_closed).
  if (released_ || closing_) return;
  auto it = subs_.find(no);
  // Unsubscribed meanwhile: the queue took the message back when it
  // processed the UNSUBSCRIBE, so dropping it here loses nothing.
  if (it == subs_.end()) return;
  Subscription& s = *it->second;
  if (s.awaiting_receipt) {
    s.early.push_back(std::move(d));  // bounded by the subscription's window
    return;
  }
  write_message(s, std::move(d));
}

void Session::release_early(SubscriptionNo no) {
  if (closing_) return;  // see on_delivery
  auto it = subs_.find(no);
  if (it == subs_.end()) return;
  Subscription& s = *it->second;
  s.awaiting_receipt = false;
  std::vector<broker::Delivery> early;
  early.swap(s.early);
  for (broker::Delivery& d : early) write_message(s, std::move(d));
}

void Session::encode_common_headers(broker::Message& m) {
  std::string& out = m.encoded_headers_1_2;
  const auto v = stomp::Version::k1_2;
  Encoder::add_header(out, "destination", m.destination, v, Command::kMessage);
  Encoder::add_header(out, "message-id", m.id_text, v, Command::kMessage);
  for (const auto& [k, val] : m.headers) Encoder::add_header(out, k, val, v, Command::kMessage);
}

void Session::write_message(Subscription& s, broker::Delivery d) {
  ++messages_out_;
  const broker::Message& m = *d.message;
  std::string& out = transport_.output();
  const bool prepared = version_ == stomp::Version::k1_2 && !m.encoded_headers_1_2.empty();
  Encoder::begin_frame(out, Command::kMessage);
  if (!prepared) {
    Encoder::add_header(out, "destination", m.destination, version_, Command::kMessage);
    Encoder::add_header(out, "message-id", m.id_text, version_, Command::kMessage);
  }
  Encoder::add_header(out, "subscription", s.id, version_, Command::kMessage);
  if (s.mode != AckMode::kAuto && version_ == stomp::Version::k1_2) {
    Encoder::add_header(out, "ack", fmt::format("{}-{}", s.no.value, d.seq.value), version_,
                        Command::kMessage);
  }
  if (d.earlier_deliveries > 0) {
    Encoder::add_header(out, "redelivered", "true", version_, Command::kMessage);
    Encoder::add_header(out, "x-delivery-count", fmt::format("{}", d.earlier_deliveries), version_,
                        Command::kMessage);
  } else {
    // Every MESSAGE says whether it is redelivered, as RabbitMQ's do: code
    // written for it reads headers['redelivered'] unconditionally.
    Encoder::add_header(out, "redelivered", "false", version_, Command::kMessage);
  }
  if (prepared) {
    out += m.encoded_headers_1_2;
  } else {
    for (const auto& [k, v] : m.headers) Encoder::add_header(out, k, v, version_, Command::kMessage);
  }
  Encoder::end_headers(out, m.body.size());
  if (m.body.size() >= OutputQueue::kReferenceFrom) transport_.output_reference(d.message, m.body);
  else out += m.body;
  Encoder::end_frame(transport_.output());
  if (s.mode == AckMode::kAuto) {
    ++s.queued_messages;
    s.queued_bytes += m.body.size();
    if (s.queued_messages == 1) credit_dirty_.push_back(s.no);
  } else {
    // Deliveries can arrive out of sequence (a persistent one waits for its
    // delivery count to be on disk); keep `held` sorted by sequence.
    auto pos = s.held.end();
    while (pos != s.held.begin() && std::prev(pos)->seq.value > d.seq.value) --pos;
    s.held.insert(pos, Held{d.seq, ++s.written, std::move(d.message)});
  }
  transport_.flush();
}

void Session::on_flush_started() {
  // What was encoded so far is in the write that starts now.
  for (SubscriptionNo no : credit_dirty_) {
    auto it = subs_.find(no);
    if (it == subs_.end()) continue;
    Subscription& s = *it->second;
    if (s.credit_messages == 0) credit_writing_.push_back(no);
    s.credit_messages += s.queued_messages;
    s.credit_bytes += s.queued_bytes;
    s.queued_messages = 0;
    s.queued_bytes = 0;
  }
  credit_dirty_.clear();
}

void Session::on_flush_done() {
  // Auto-ack windows refill once the frames have been written to the socket:
  // a consumer that stops reading stops receiving and holds at most its window.
  if (released_) return;
  // Swapped with a member so that both keep their capacity.
  std::vector<SubscriptionNo>& writing = credit_swap_;
  writing.clear();
  writing.swap(credit_writing_);
  for (SubscriptionNo no : writing) {
    auto it = subs_.find(no);
    if (it == subs_.end()) continue;
    Subscription& s = *it->second;
    if (s.credit_messages == 0) continue;
    broker_.credit(s.owner, key_of(s), s.credit_messages, s.credit_bytes);
    s.credit_messages = 0;
    s.credit_bytes = 0;
  }
}

void Session::on_kick(SubscriptionNo no, std::string reason) {
  auto it = subs_.find(no);
  if (it == subs_.end()) return;
  // The broker already dropped the subscription.
  auto by_id = subs_by_id_.find(it->second->id);
  subs_.erase(it);
  if (by_id != subs_by_id_.end()) subs_by_id_.erase(by_id);
  fail(reason);
}

// ------------------------------------------------------------------ close

void Session::on_closed() {
  if (released_) return;
  released_ = true;
  closing_ = true;
  // An open transaction is aborted: its acknowledged messages come back.
  for (auto& [name, tx] : transactions_) abort_transaction(tx);
  transactions_.clear();
  release_all();
  // After its subscriptions are let go: a new connection with this
  // client-id (which waits for it, see claim_client_id) finds its durable
  // subscriptions free.
  release_client_id();
}

void Session::release_all() {
  for (auto& [id, s] : subs_by_id_) broker_.unsubscribe(s->owner, key_of(*s), false, ticket(0));
  subs_.clear();
  subs_by_id_.clear();
  pending_.clear();
}

}  // namespace ferry::net

namespace ferry::net {

std::size_t Session::unacked_count() const {
  std::size_t n = 0;
  for (const auto& [id, s] : subs_by_id_) n += s->held.size();
  return n;
}

std::vector<Session::SubscriptionInfo> Session::subscriptions() const {
  std::vector<SubscriptionInfo> out;
  for (const auto& [id, s] : subs_by_id_) {
    SubscriptionInfo i;
    i.id = id;
    i.destination = s->destination.to_string();
    i.ack = s->mode == broker::AckMode::kAuto     ? "auto"
            : s->mode == broker::AckMode::kClient ? "client"
                                                  : "client-individual";
    i.prefetch = s->prefetch;
    i.unacked = s->held.size();
    i.durable = s->durable;
    i.name = s->durable_name;
    out.push_back(std::move(i));
  }
  return out;
}

}  // namespace ferry::net

namespace ferry::net {

// ------------------------------------------------------------ client-id

bool Session::claim_client_id(const ConnectReply& reply) {
  if (client_id_.empty() || client_id_held_) return true;
  auto holder =
      broker_.client_ids().claim(vhost_, client_id_, {shard_, id_, user_, std::string(transport_.peer())});
  if (!holder) {
    client_id_held_ = true;
    client_id_wait_until_ms_ = 0;
    client_id_reply_.reset();
    return true;
  }
  const std::int64_t now = mono_ms();
  if (client_id_wait_until_ms_ == 0) {
    // The holder may be this same client's previous connection, closing
    // (after its DISCONNECT's RECEIPT, or a dropped socket, then a reconnect
    // at once): a connection lets its client-id go only once it is closed.
    // Wait a moment, holding the frames that follow, before refusing.
    client_id_wait_until_ms_ = now + kClientIdWaitMs;
    client_id_reply_ = reply;
    transport_.pause_reading();
    return false;
  }
  if (now < client_id_wait_until_ms_) return false;
  client_id_wait_until_ms_ = 0;
  // ActiveMQ's words (InvalidClientIDException), which its users' alert
  // rules know; the holder's address only to the same user.
  const std::string from = holder->user == user_ ? holder->peer : std::string("another user's connection");
  fail(fmt::format("Broker: ferry - Client: {} already connected from {}", client_id_, from),
       fmt::format("{}: client-id '{}' is in use by another connection in vhost '{}' (one connection per "
                   "client-id at a time)",
                   errors::kClientIdInUse, client_id_, vhost_),
       reply.receipt);
  return false;
}

void Session::release_client_id() {
  if (!client_id_held_) return;
  client_id_held_ = false;
  broker_.client_ids().release(vhost_, client_id_, shard_, id_);
}

}  // namespace ferry::net
