#include "session/mqtt_session.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/shard_broker.h"
#include "broker/topic_patterns.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "mqtt/encoder.h"
#include "mqtt/properties.h"
#include "mqtt/topic.h"
#include "mqtt/utf8.h"
#include "mqtt/wire.h"
#include "net/errors.h"
#include "session/mqtt_topics.h"

namespace ferry::session {

using mqtt::Level;
using mqtt::PacketType;
using mqtt::ReasonCode;

namespace {

// The header that carries an MQTT message's QoS (RabbitMQ's name): a
// subscriber gets min(this, its granted QoS); messages without it (from
// STOMP) are delivered at the granted QoS.
constexpr std::string_view kQosHeader = "x-mqtt-publish-qos";
// Set on a message published with the retain flag: an MQTT 5 subscription
// with Retain As Published gets the flag back.
constexpr std::string_view kRetainHeader = "x-mqtt-retain";

}  // namespace

net::ProtocolFactory mqtt_protocol(const MqttContext& context) {
  net::ProtocolFactory f;
  f.make = [context](net::Transport& transport, ShardId shard, ConnectionId id) -> std::unique_ptr<net::Protocol> {
    return std::make_unique<MqttSession>(context, transport, shard, id);
  };
  // Refused at max-connections before its CONNECT was read: a 3.1.1 CONNACK
  // "server unavailable", which MQTT 5 clients read as well (they check the
  // return code; its form is the same up to the missing properties).
  f.refusal = [](std::string_view) {
    std::string out;
    mqtt::encode_connack(Level::k3_1_1, mqtt::Connack{false, ReasonCode::kServerUnavailable, {}}, out);
    return out;
  };
  f.max_unit_size = context.max_packet_size;
  return f;
}

MqttSession::MqttSession(const MqttContext& context, net::Transport& transport, ShardId shard, ConnectionId id)
    : broker_(context.broker),
      clients_(context.clients),
      authenticator_(context.authenticator),
      retained_(context.retained),
      wills_(context.wills),
      qos2_ids_(context.qos2_ids),
      transport_(transport),
      max_packet_size_(context.max_packet_size),
      max_subscriptions_(context.max_subscriptions),
      shard_(shard),
      id_(ConnectionId(id.value | kIdBit | context.id_bits)),
      log_id_(id.value),
      decoder_(context.max_packet_size),
      login_(context.authenticator),
      last_input_ms_(mono_ms()),
      connected_at_ms_(wall_ms()) {
  clients_.add(shard_, id_, *this);
}

MqttSession::~MqttSession() {
  if (released_) return;
  release_client_id();
  clients_.remove(shard_, id_);
}

namespace {

// MQTT client ids and STOMP client-ids are claimed in one table
// (broker::ClientIds) but are different names: a prefix keeps them apart.
std::string client_id_key(const std::string& id) { return "mqtt:" + id; }

}  // namespace

void MqttSession::claim_client_id() {
  if (client_id_held_ || closing_ || released_) return;
  auto holder = broker_.client_ids().claim(login_.vhost(), client_id_key(client_id_),
                                           {shard_, id_, login_.user(), transport_.peer()});
  if (!holder) {
    client_id_held_ = true;
    // A will the client id's last connection left waiting (will delay): a
    // resumed session takes it back, a clean start ends that session and
    // so sends it (spec 3.1.3.2.2).
    const std::string key = MqttWills::key_of(login_.vhost(), client_id_);
    if (wills_ != nullptr) wills_->claimed(key, clean_start_, shard_);
    // The QoS 2 flows a resumed session had open (a clean start drops them).
    if (qos2_ids_ != nullptr) {
      MqttQos2Ids::Flows flows = qos2_ids_->take(key);
      if (!clean_start_) {
        qos2_received_.merge(flows.received);
        resend_pubrels(flows.released);
      } else {
        qos2_ids_->forget(key);
      }
    }
    if (awaiting_claim_) {
      // Packets buffered meanwhile are read now (pause first: resuming
      // parses what is buffered only when reading was paused).
      awaiting_claim_ = false;
      last_input_ms_ = mono_ms();  // its keep-alive starts now
      transport_.pause_reading();
      if (answers_.size() <= 1000) transport_.resume_reading();
    }
    return;
  }
  // A resumed session reads nothing until the older connection has let the
  // client id go, so that the QoS 2 flows it left are known before a
  // resent PUBLISH is (tick() claims again).
  if (!clean_start_ && qos2_ids_ != nullptr && !awaiting_claim_) {
    awaiting_claim_ = true;
    transport_.pause_reading();
  }
  if (holder->connection == told_to_go_) return;  // asked already; it is closing
  told_to_go_ = holder->connection;
  spdlog::debug("connection {} ({}): MQTT client id '{}' taken over from connection {}", log_id_,
                transport_.peer(), log_safe(client_id_), holder->connection.value & ~kIdBit);
  const ConnectionId old = holder->connection;
  broker_.to_client(holder->shard, [old](broker::ClientEvents& events) {
    events.kick(old, SubscriptionNo(0), "session taken over by a new connection with its client id");
  });
}

void MqttSession::resend_pubrels(const MqttQos2Ids::Ids& released) {
  // Outbound QoS 2 flows of the session's last connection that had their
  // PUBREC (the message is the client's, acknowledged in the session queue)
  // but not their PUBCOMP: PUBREL again, same packet id (spec 4.4); the
  // packet id stays taken until PUBCOMP. An id this connection has used
  // meanwhile (a takeover that let go late) cannot be resent: the client
  // ends that flow by its own PUBREL timeout, if any.
  bool wrote = false;
  for (std::uint16_t id : released) {
    if (inflight_.contains(id)) continue;
    inflight_[id] = Inflight{kSessionQueueSub, 0, DeliverySeq{}, 2, true};
    mqtt::encode_pub_response(level_, mqtt::PubResponse{PacketType::kPubrel, id, ReasonCode::kSuccess, {}},
                              transport_.output());
    wrote = true;
  }
  if (wrote) transport_.flush();
}

MqttQos2Ids::Flows MqttSession::qos2_flows() const {
  MqttQos2Ids::Flows flows;
  for (std::uint16_t id : qos2_received_)
    if (!qos2_pending_.contains(id)) flows.received.insert(id);
  for (const auto& [id, f] : inflight_)
    if (f.released) flows.released.insert(id);
  return flows;
}

void MqttSession::save_qos2(std::uint64_t op) {
  qos2_ids_->save(MqttWills::key_of(login_.vhost(), client_id_), qos2_flows(),
                  expiry_in_use_.value_or(session_expiry_s_), op == 0 ? nullptr : on_written(op));
}

std::function<void(const Status&)> MqttSession::on_written(std::uint64_t op) {
  std::weak_ptr<int> alive = alive_;
  broker::Broker* broker = &broker_;
  return [this, alive, broker, shard = shard_, op](const Status& st) {  // the store's thread
    broker::Outcome o = st ? broker::Outcome::success() : broker::Outcome::failure(st.error().text());
    broker->post(shard, [this, alive, op, o = std::move(o)]() mutable {
      if (alive.expired()) return;
      on_complete(op, std::move(o));
    });
  };
}

void MqttSession::release_client_id() {
  if (!client_id_held_) return;
  client_id_held_ = false;
  broker_.client_ids().release(login_.vhost(), client_id_key(client_id_), shard_, id_);
}

// ---------------------------------------------------------------- packets in

std::size_t MqttSession::on_bytes(std::span<char> bytes) {
  last_input_ms_ = mono_ms();
  std::size_t begin = 0;
  std::size_t parsed = 0;
  yielded_ = false;
  while (!closing_ && !holding() && begin < bytes.size()) {
    const std::string_view data(bytes.data() + begin, bytes.size() - begin);
    mqtt::ClientPacket packet;
    const mqtt::Decoder::Result r = decoder_.next(data, packet);
    if (r.status == mqtt::Decoder::Status::kNeedMore) break;
    if (r.status == mqtt::Decoder::Status::kError) {
      on_decode_error(r);
      break;
    }
    begin += r.consumed;
    on_packet(packet);
    // Fairness: at most kUnitsPerTurn a call; the connection offers the
    // rest in a later turn of the loop (see net::Protocol::yielded).
    if (++parsed == kUnitsPerTurn && begin < bytes.size() && !closing_) {
      yielded_ = true;
      break;
    }
  }
  return begin;
}

void MqttSession::on_decode_error(const mqtt::Decoder::Result& r) {
  if (decoder_.level()) level_ = *decoder_.level();
  fail(r.error, r.rule);
}

void MqttSession::on_packet(mqtt::ClientPacket& p) {
  if (auto* c = std::get_if<mqtt::Connect>(&p)) return handle_connect(*c);
  if (!connected_) return fail(ReasonCode::kProtocolError, "packet before CONNACK");  // the decoder let it through
  if (auto* m = std::get_if<mqtt::Publish>(&p)) return handle_publish(*m);
  if (auto* r = std::get_if<mqtt::PubResponse>(&p)) return handle_pub_response(*r);
  if (auto* s = std::get_if<mqtt::Subscribe>(&p)) return handle_subscribe(*s);
  if (auto* u = std::get_if<mqtt::Unsubscribe>(&p)) return handle_unsubscribe(*u);
  if (std::holds_alternative<mqtt::Pingreq>(p)) {
    mqtt::encode_pingresp(transport_.output());
    transport_.flush();
    return;
  }
  if (auto* d = std::get_if<mqtt::Disconnect>(&p)) return handle_disconnect(*d);
  // AUTH: enhanced authentication is not offered (CONNECT with an
  // Authentication Method was refused), so an AUTH is out of place.
  fail(ReasonCode::kProtocolError, "AUTH without enhanced authentication");
}

// ---------------------------------------------------------------- CONNECT

void MqttSession::handle_connect(const mqtt::Connect& c) {
  level_ = c.level;
  keep_alive_s_ = c.keep_alive;
  clean_start_ = c.clean_start;
  // 3.1.1: clean session 0 keeps the session for good (the specification
  // has no expiry); MQTT 5: for its Session Expiry Interval.
  if (c.level == Level::k5) session_expiry_s_ = c.properties.session_expiry_interval.value_or(0);
  else if (!c.clean_start) session_expiry_s_ = kNeverExpires;
  client_id_ = std::string(c.client_id);
  if (c.client_id.empty()) {
    // 3.1.1 3.1.3-8: an empty client id with a persistent session is refused.
    if (!v5() && !c.clean_start) return refuse_connect(ReasonCode::kClientIdentifierNotValid, "empty client id without clean session", false);
    client_id_ = fmt::format("ferry-{}-{}", shard_.value, log_id_);
    client_id_assigned_ = true;
  }
  persistent_ = session_expiry_s_ != 0;
  // The session is a queue named after the client id; a journal key cannot
  // hold control characters (docs/journal.md), so such an id keeps no session.
  if ((persistent_ || !clean_start_) &&
      std::any_of(client_id_.begin(), client_id_.end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x20; }))
    return refuse_connect(ReasonCode::kClientIdentifierNotValid, "a client id with control characters keeps no session", false);
  if (v5()) {
    if (c.properties.authentication_method)
      return refuse_connect(ReasonCode::kBadAuthenticationMethod, "enhanced authentication is not supported", false);
    session_expiry_asked_ = c.properties.session_expiry_interval.value_or(0) != 0;
    client_receive_maximum_ = c.properties.receive_maximum.value_or(65535);
    if (c.properties.maximum_packet_size) client_max_packet_size_ = *c.properties.maximum_packet_size;
    client_topic_alias_maximum_ = std::min<std::uint16_t>(c.properties.topic_alias_maximum.value_or(0), kServerTopicAliases);
  }
  if (c.will) {
    if (c.will->retain && v5() && retained_ == nullptr)
      return refuse_connect(ReasonCode::kRetainNotSupported, "will retain", false);
    will_ = WillMessage{std::string(c.will->topic), std::string(c.will->payload), c.will->qos, c.will->retain,
                        v5() ? extras_of(c.will->properties) : Extras{},
                        v5() ? c.will->properties.will_delay_interval.value_or(0) : 0};
  }
  if (authenticator_ == nullptr) return finish_connect();  // unit tests: everyone in vhost "/"

  // RabbitMQ's MQTT plugin: a user name "vhost:user" picks the vhost;
  // otherwise default-vhost.
  std::string user = c.username ? std::string(*c.username) : std::string();
  std::string vhost = authenticator_->vhost_for_host(std::nullopt);
  if (auto colon = user.find(':'); colon != std::string::npos) {
    vhost = user.substr(0, colon);
    user = user.substr(colon + 1);
  }
  login_.set_vhost(vhost);
  const std::string peer = auth::address_of_peer(transport_.peer());
  if (!c.username || user.empty()) {
    // As STOMP: no user name means default-user, no password checked.
    const std::string& def = authenticator_->options().default_user;
    if (def.empty()) return refuse_connect(ReasonCode::kBadUserNameOrPassword, "a user name is required", true);
    return on_login(authenticator_->authorize(def, login_.vhost(), peer));
  }
  authenticating_ = true;
  transport_.pause_reading();
  std::weak_ptr<int> alive = alive_;
  broker::Broker* broker = &broker_;
  const ShardId shard = shard_;
  authenticator_->submit(std::move(user), std::string(c.password.value_or("")), peer, login_.vhost(),
                         [this, alive, broker, shard](auth::LoginResult r) {
                           broker->post(shard, [this, alive, r = std::move(r)]() {
                             if (alive.expired()) return;
                             on_login(r);
                           });
                         });
}

void MqttSession::on_login(const auth::LoginResult& r) {
  authenticating_ = false;
  if (closing_) return;
  using auth::LoginStatus;
  switch (r.status) {
    case LoginStatus::kOk:
      login_.logged_in(r.user, r.permissions);
      finish_connect();
      if (!opening_session_ && !awaiting_claim_) transport_.resume_reading();  // else once the session is open
      return;
    case LoginStatus::kBadCredentials:
      return refuse_connect(ReasonCode::kBadUserNameOrPassword, "unknown user or wrong password", true);
    case LoginStatus::kLoopbackOnly:
      return refuse_connect(ReasonCode::kNotAuthorized, fmt::format("user '{}' is in loopback-users", r.user), true);
    case LoginStatus::kNoVhostAccess:
      return refuse_connect(ReasonCode::kNotAuthorized,
                            fmt::format("user '{}' has no permissions on vhost '{}'", r.user, login_.vhost()), true);
    case LoginStatus::kThrottled:
      return refuse_connect(ReasonCode::kConnectionRateExceeded, "too many login failures from this address", false);
    case LoginStatus::kBusy:
      return refuse_connect(ReasonCode::kServerBusy, "too many logins waiting", false);
  }
}

void MqttSession::refuse_connect(ReasonCode code, std::string_view why, bool delay) {
  spdlog::debug("connection {} ({}): MQTT CONNECT refused: {}", log_id_, transport_.peer(), log_safe(why));
  const std::uint32_t ms = authenticator_ ? authenticator_->options().login_failure_delay_ms : 0;
  if (!delay || ms == 0) return fail(code, why);
  // Not blocking: the connection waits (unread) and tick() answers.
  transport_.pause_reading();
  refusal_ = code;
  refuse_at_ms_ = mono_ms() + ms;
}

void MqttSession::finish_connect() {
  if (arm_will()) return;
  // A session to resume, keep or discard (clean start: one left by an
  // earlier connection with this client id): looked up first (CONNACK says
  // whether one was there). An id the broker assigned has none.
  if (persistent_ || !clean_start_ || !client_id_assigned_) return open_session();
  send_connack();
}

void MqttSession::send_connack() {
  connected_ = true;
  mqtt::Connack ack;
  ack.session_present = session_present_;
  if (v5()) {
    mqtt::Properties& p = ack.properties;
    if (client_id_assigned_) p.assigned_client_identifier = client_id_;
    // An existing session keeps the expiry its queue was declared with: the
    // client is told (spec 3.2.2.3.2).
    if (expiry_in_use_) p.session_expiry_interval = *expiry_in_use_;
    if (retained_ == nullptr) p.retain_available = 0;
    p.topic_alias_maximum = kTopicAliasMaximum;
    p.maximum_packet_size = static_cast<std::uint32_t>(std::min<std::size_t>(max_packet_size_, mqtt::kMaxVariableByteInteger + 5));
  }
  mqtt::encode_connack(level_, ack, transport_.output());
  transport_.flush();
  claim_client_id();
  spdlog::debug("connection {} ({}): MQTT {} client '{}' connected as '{}' in vhost '{}'", log_id_,
                transport_.peer(), v5() ? "5" : "3.1.1", log_safe(client_id_), log_safe(login_.user()),
                log_safe(login_.vhost()));
}

// ---------------------------------------------------------------- persistent sessions

namespace {

// A session subscription's binding arguments (docs/mqtt.md, "Persistent
// sessions"): amq.topic is a topic exchange, which routes by key alone, so
// these only keep what the subscription was.
constexpr std::string_view kFilterArgument = "x-mqtt-filter";
constexpr std::string_view kQosArgument = "x-mqtt-qos";
constexpr std::string_view kNoLocalArgument = "x-mqtt-no-local";
constexpr std::string_view kRapArgument = "x-mqtt-retain-as-published";
constexpr std::string_view kSubscriptionIdArgument = "x-mqtt-subscription-id";
constexpr std::string_view kSharedArgument = "x-mqtt-shared";

}  // namespace

void MqttSession::open_session() {
  session_queue_ = broker::Destination{broker::DestinationKind::kQueue, "mqtt-subscription-" + client_id_ + "qos1",
                                       login_.vhost()};
  session_owner_ = broker_.owner_of(session_queue_);
  // As in RabbitMQ, the session's queue is the user's to create and read
  // (a clean session only discards the one there may be).
  if ((persistent_ || !clean_start_) &&
      (!login_.may(auth::Access::kConfigure, session_queue_) || !login_.may(auth::Access::kRead, session_queue_)))
    return refuse_connect(ReasonCode::kNotAuthorized,
                          fmt::format("a persistent session needs configure and read permission on {}",
                                      session_queue_.to_string()),
                          false);
  opening_session_ = true;
  transport_.pause_reading();
  std::weak_ptr<int> alive = alive_;
  broker::Broker* broker = &broker_;
  const ShardId owner = session_owner_, home = shard_;
  broker_.post(owner, [this, alive, broker, owner, home, q = session_queue_] {
    std::optional<broker::QueueStats> found = broker->local(owner).queue_stats(q);
    broker->post(home, [this, alive, found = std::move(found)]() mutable {
      if (alive.expired()) return;  // `this` is only touched on its own shard, while alive
      on_session_found(std::move(found));
    });
  });
}

void MqttSession::on_session_found(std::optional<broker::QueueStats> found) {
  if (closing_) return;
  bool exists = found.has_value();
  if (exists && clean_start_) {
    // Clean start discards the session there was (spec 3.1.2.4).
    delete_session();
    exists = false;
  }
  session_present_ = exists;
  if (!exists && !persistent_) {
    // Nothing to resume, nothing to keep (MQTT 5: clean start 0 with
    // session expiry 0 and no session): an ordinary connection.
    opening_session_ = false;
    send_connack();
    if (!awaiting_claim_) transport_.resume_reading();
    return;
  }
  queued_ = true;
  broker::ConsumerOptions options;
  if (!exists) {
    // A new session: its queue is declared (remembered across restarts) and
    // expires as the session does (x-expires counts from when it was last
    // used: the connection's end).
    broker::QueueArguments args;
    if (session_expiry_s_ != kNeverExpires) args.expires = std::uint64_t{session_expiry_s_} * 1000;
    options.arguments = std::make_shared<const broker::QueueArguments>(std::move(args));
  } else if (v5()) {
    // An existing session keeps its own expiry (a queue's arguments are
    // fixed); CONNACK tells the client when it differs from what it asked.
    const auto& expires = found->arguments.expires;
    const std::uint32_t in_use =
        expires ? static_cast<std::uint32_t>(std::min<std::uint64_t>(*expires / 1000, kNeverExpires - 1)) : kNeverExpires;
    if (persistent_ && in_use != session_expiry_s_) expiry_in_use_ = in_use;
  }
  const broker::Window window = subscriber_window();
  attach_op_ = ++next_op_;
  // A declaration answers twice (declared, subscribed).
  attach_answers_ = options.arguments ? 2 : 1;
  broker_.subscribe(session_queue_, session_key(), broker::AckMode::kClientIndividual, window, std::nullopt,
                    ticket(attach_op_), true, std::move(options));
}

void MqttSession::on_session_refused(const broker::Outcome& outcome) {
  attach_op_ = 0;
  opening_session_ = false;
  queued_ = false;
  // max-queues (each persistent session is a queue) or a full disk.
  spdlog::info("connection {} ({}): MQTT session of client '{}' not opened: {}", log_id_, transport_.peer(),
               log_safe(client_id_), log_safe(outcome.error));
  fail(outcome.error.find("max-queues") != std::string::npos || outcome.error.find("limit") != std::string::npos
           ? ReasonCode::kQuotaExceeded
           : ReasonCode::kUnspecifiedError,
       outcome.error);
}

void MqttSession::on_session_attached() {
  attach_op_ = 0;
  // The subscriptions are the bindings to the session's queue, as this
  // shard's replica of the exchanges has them (a binding is confirmed once
  // every replica has it, so the last connection's are all here).
  if (session_present_) {
    for (const broker::BindingInfo& b : broker_.exchanges(shard_).bindings(session_queue_.vhost)) {
      if (b.destination != broker::BindingDestination::queue(session_queue_.name)) continue;
      auto filter = b.arguments.find(kFilterArgument);
      if (filter == b.arguments.end()) continue;  // not one of ours (bound by an operator): routes, but no filter
      if (b.source == "amq.direct" && b.arguments.contains(kSharedArgument)) {
        rejoin_group(b);
        continue;
      }
      if (b.source != "amq.topic") continue;
      auto qos = b.arguments.find(kQosArgument);
      Sub sub;
      sub.no = SubscriptionNo(++next_sub_no_);
      sub.filter = filter->second;
      sub.destination = broker::Destination{broker::DestinationKind::kTopic, b.key, session_queue_.vhost};
      sub.owner = session_owner_;
      sub.qos = qos == b.arguments.end() ? 0 : qos->second == "2" ? 2 : qos->second == "1" ? 1 : 0;
      sub.no_local = b.arguments.contains(kNoLocalArgument);
      sub.retain_as_published = b.arguments.contains(kRapArgument);
      if (auto id = b.arguments.find(kSubscriptionIdArgument); id != b.arguments.end())
        sub.subscription_id = static_cast<std::uint32_t>(std::strtoul(id->second.c_str(), nullptr, 10));
      sub.bound = true;
      filter_of_[sub.no.value] = sub.filter;
      subs_.emplace(sub.filter, std::move(sub));
    }
  }
  opening_session_ = false;
  send_connack();
  // Deliveries that came before CONNACK could be written.
  auto early = std::move(waiting_);
  waiting_.clear();
  for (Waiting& w : early) deliver_queued(std::move(w.delivery));
  if (!awaiting_claim_) transport_.resume_reading();
}

void MqttSession::rejoin_group(const broker::BindingInfo& b) {
  // A shared subscription kept with the session (binding_of): the
  // connection is a member of the group again, as its SUBSCRIBE made it,
  // without an answer (a refusal leaves it out, as for an unauthorized one).
  const std::string& filter = b.arguments.find(kFilterArgument)->second;
  mqtt::TopicFilter f;
  if (mqtt::parse_topic_filter(filter, f) != ReasonCode::kSuccess || f.share_group.empty() || subs_.contains(filter))
    return;
  Sub sub;
  sub.no = SubscriptionNo(++next_sub_no_);
  sub.filter = filter;
  sub.shared = true;
  sub.destination = broker::Destination{broker::DestinationKind::kQueue,
                                        "mqtt-share/" + std::string(f.share_group) + "/" + std::string(f.filter),
                                        session_queue_.vhost};
  sub.owner = broker_.owner_of(sub.destination);
  const broker::Destination topic{broker::DestinationKind::kTopic, pattern_of_filter(f.filter), session_queue_.vhost};
  if (!login_.may(auth::Access::kRead, topic) || !login_.may(auth::Access::kRead, sub.destination)) return;
  auto qos = b.arguments.find(kQosArgument);
  sub.qos = qos == b.arguments.end() ? 0 : qos->second == "2" ? 2 : qos->second == "1" ? 1 : 0;
  if (auto id = b.arguments.find(kSubscriptionIdArgument); id != b.arguments.end())
    sub.subscription_id = static_cast<std::uint32_t>(std::strtoul(id->second.c_str(), nullptr, 10));
  filter_of_[sub.no.value] = sub.filter;
  auto [it, added] = subs_.emplace(sub.filter, std::move(sub));
  join_group(it->second, topic.name, 0, 0);
}

void MqttSession::delete_session() {
  // Its bindings go with the queue (ShardBroker::delete_queue), and it is
  // forgotten in declared-queues.json; its waiting messages are dropped.
  broker::Broker* broker = &broker_;
  broker_.post(session_owner_, [broker, owner = session_owner_, q = session_queue_] {
    const auto result = broker->local(owner).delete_queue(q);
    if (result == broker::ShardBroker::AdminError::kInUse) {
      // A connection with the client id, taken over, has not let go yet: its
      // bindings are gone already; what waits goes too.
      (void)broker->local(owner).purge_queue(q);
      spdlog::info("MQTT session {} emptied, not deleted: a connection taken over still consumes it",
                   log_safe(q.to_string()));
    }
    if (result != broker::ShardBroker::AdminError::kInUse && broker->remembers_declarations())
      broker->remember_declaration(q, std::nullopt, [q](const Status& forgotten) {
        if (!forgotten)
          spdlog::error("MQTT session {} deleted, but comes back (empty) after a restart: {}", log_safe(q.to_string()),
                        log_safe(forgotten.error().text()));
      });
  });
}

broker::ExchangeChange MqttSession::binding_of(const Sub& s, bool bind) const {
  broker::ExchangeChange c;
  c.kind = bind ? broker::ExchangeChange::Kind::kBind : broker::ExchangeChange::Kind::kUnbind;
  c.vhost = session_queue_.vhost;
  c.exchange = "amq.topic";
  c.destination = broker::BindingDestination::queue(session_queue_.name);
  c.key = s.destination.name;
  if (s.shared) {
    // A shared subscription is not routed through the session queue (its
    // messages come from the group's queue): it is kept as a binding of
    // amq.direct whose key is the $share filter, which MQTT publishes
    // (always to amq.topic) never use.
    c.exchange = "amq.direct";
    c.key = s.filter;
    c.arguments.emplace(kSharedArgument, "1");
  }
  c.arguments.emplace(kFilterArgument, s.filter);
  c.arguments.emplace(kQosArgument, std::to_string(s.qos));
  if (s.no_local) c.arguments.emplace(kNoLocalArgument, "1");
  if (s.retain_as_published) c.arguments.emplace(kRapArgument, "1");
  if (s.subscription_id != 0) c.arguments.emplace(kSubscriptionIdArgument, std::to_string(s.subscription_id));
  return c;
}

void MqttSession::change_binding(const Sub& s, bool bind, std::uint64_t op) {
  std::function<void(Status)> done;
  if (op != 0) {
    std::weak_ptr<int> alive = alive_;
    done = [this, alive, op](Status st) {  // runs on shard_
      if (alive.expired()) return;
      on_complete(op, st ? broker::Outcome::success() : broker::Outcome::failure(st.error().text()));
    };
  }
  broker_.change_exchanges(shard_, binding_of(s, bind), std::move(done));
}

void MqttSession::join_group(const Sub& member, const std::string& key, std::uint64_t op, std::uint64_t bind_op) {
  broker::ConsumerOptions options;
  broker::QueueArguments args;
  args.expires = kSharedQueueExpiryMs;
  options.arguments = std::make_shared<const broker::QueueArguments>(std::move(args));
  const bool may_create = login_.may(auth::Access::kConfigure, member.destination);
  broker_.subscribe(member.destination, key_of(member), broker::AckMode::kClientIndividual, subscriber_window(),
                    std::nullopt, ticket(op), may_create, std::move(options));
  broker::ExchangeChange c;
  c.kind = broker::ExchangeChange::Kind::kBind;
  c.vhost = member.destination.vhost;
  c.exchange = "amq.topic";
  c.destination = broker::BindingDestination::queue(member.destination.name);
  c.key = key;
  std::function<void(Status)> done;
  if (bind_op != 0) {
    std::weak_ptr<int> alive = alive_;
    done = [this, alive, bind_op](Status st) {
      if (alive.expired()) return;
      on_complete(bind_op, st ? broker::Outcome::success() : broker::Outcome::failure(st.error().text()));
    };
  }
  broker_.change_exchanges(shard_, std::move(c), std::move(done));
}

broker::Window MqttSession::subscriber_window() const {
  broker::Window window;
  window.messages = std::max<std::uint32_t>(
      1, std::min({broker_.options().default_prefetch, broker_.options().max_unacked,
                   static_cast<std::uint32_t>(client_receive_maximum_)}));
  window.bytes = transport_.max_write_buffer();
  return window;
}

void MqttSession::deliver_queued(broker::Delivery d) {
  if (!connected_ || opening_session_) {
    waiting_.push_back(Waiting{kSessionQueueSub, std::move(d), 0, {}});  // until CONNACK is out
    return;
  }
  const broker::Message& m = *d.message;
  const std::string topic = mqtt_topic_of_destination(m.destination);
  const Sub* best = nullptr;
  const bool carried = mqtt::check_topic_name(topic) == ReasonCode::kSuccess;
  for (const auto& [filter, s] : subs_) {
    if (!s.bound || !carried || !mqtt::topic_matches(filter, topic)) continue;
    if (s.no_local && m.origin == id_) continue;
    if (best == nullptr || s.qos > best->qos) best = &s;
  }
  if (best == nullptr) return settle_unsent(kSessionQueueSub, d);
  write_publish(*best, best->qos, std::move(d));
}

// ---------------------------------------------------------------- PUBLISH

namespace {

// Headers a message cannot carry from MQTT user properties: those the broker
// sets or that describe a SEND (as StompSession drops them), and those the
// MQTT properties themselves map to. STOMP 1.0 has no header escaping, so
// names and values with line ends are left out too.
bool carried_as_header(std::string_view name, std::string_view value) {
  static constexpr std::string_view kReserved[] = {
      "destination", "receipt", "transaction", "content-length", "message-id", "subscription", "ack",
      "redelivered", "x-delivery-count", "persistent", "expires", "expiration", kQosHeader, kRetainHeader};
  if (name.empty() || name.find_first_of(":\r\n") != std::string_view::npos) return false;
  if (value.find_first_of("\r\n") != std::string_view::npos) return false;
  return std::find(std::begin(kReserved), std::end(kReserved), name) == std::end(kReserved);
}

}  // namespace

MqttSession::Extras MqttSession::extras_of(const mqtt::Properties& p) {
  Extras e;
  e.expiry_s = p.message_expiry_interval;
  if (p.content_type && carried_as_header("content-type", *p.content_type))
    e.headers.emplace_back("content-type", *p.content_type);
  if (p.response_topic && carried_as_header("reply-to", *p.response_topic) &&
      mqtt::check_topic_name(*p.response_topic) == ReasonCode::kSuccess)
    e.headers.emplace_back("reply-to", "/topic/" + topic_of_mqtt(*p.response_topic));
  if (p.correlation_data && mqtt::valid_mqtt_utf8(*p.correlation_data) &&
      carried_as_header("correlation-id", *p.correlation_data))
    e.headers.emplace_back("correlation-id", *p.correlation_data);
  for (const mqtt::UserProperty& u : p.user_properties) {
    if (!carried_as_header(u.name, u.value)) continue;
    // First occurrence wins, as for STOMP headers.
    bool seen = false;
    for (const auto& [k, v] : e.headers) seen = seen || k == u.name;
    if (!seen) e.headers.emplace_back(u.name, u.value);
  }
  return e;
}

broker::MessageRef MqttSession::build_message(std::string_view topic, std::string_view payload, std::uint8_t qos,
                                              const Extras& extras, bool retain) {
  const std::size_t fixed = (qos > 0 ? 2 : 1) + (extras.expiry_s ? 1 : 0) + (retain ? 1 : 0);
  broker::MessageRef ref = broker::make_message_with_header_slots(fixed + extras.headers.size());
  broker::Message* m = &ref.writable();
  m->id = broker_.next_message_id(shard_);
  m->origin = id_;
  m->id_text = fmt::format("ID:ferry-mqtt-{}-{}", shard_.value, m->id.value & ((std::uint64_t{1} << 56) - 1));
  m->destination = "/topic/" + topic_of_mqtt(topic);
  m->body.assign(payload.data(), payload.size());
  std::size_t n = 0;
  m->headers[n++] = {std::string(kQosHeader), std::to_string(qos)};
  if (retain) m->headers[n++] = {std::string(kRetainHeader), "1"};
  // QoS 1 and 2 messages are persistent: a durable STOMP subscription keeps
  // them across a restart, and PUBACK waits until they are on disk.
  if (qos > 0) {
    m->persistent = true;
    m->headers[n++] = {"persistent", "true"};
  }
  // MQTT 5 Message Expiry Interval: the message expires as a STOMP one with
  // `expires` (ms since the epoch) does.
  if (extras.expiry_s) {
    m->expires_ms = wall_ms() + std::int64_t{*extras.expiry_s} * 1000;
    m->headers[n++] = {"expires", std::to_string(m->expires_ms)};
  }
  for (const auto& h : extras.headers) m->headers[n++] = h;
  m->headers.resize(n);
  return ref;
}

void MqttSession::handle_publish(const mqtt::Publish& given) {
  // MQTT 5 topic aliases from the client (spec 3.3.2.3.4): a PUBLISH with
  // a topic and an alias sets the alias; one with an empty topic uses it.
  const mqtt::Publish* resolved = &given;
  mqtt::Publish aliased;
  if (given.properties.topic_alias) {
    const std::uint16_t alias = *given.properties.topic_alias;
    if (alias > kTopicAliasMaximum)
      return fail(ReasonCode::kTopicAliasInvalid, fmt::format("topic alias {} above Topic Alias Maximum {}", alias, kTopicAliasMaximum));
    if (!topic_aliases_) topic_aliases_ = std::make_unique<std::array<std::string, kTopicAliasMaximum>>();
    std::string& slot = (*topic_aliases_)[alias - 1];
    if (!given.topic.empty()) {
      slot.assign(given.topic);
    } else {
      if (slot.empty())
        return fail(ReasonCode::kProtocolError, fmt::format("topic alias {} used before it was set", alias));
      aliased = given;
      aliased.topic = slot;  // a view of the alias table, alive through this call
      resolved = &aliased;
    }
  }
  const mqtt::Publish& p = *resolved;
  if (p.retain && v5() && retained_ == nullptr)
    return fail(ReasonCode::kRetainNotSupported, "retained messages are not offered");
  const PacketType answer_type = p.qos == 2 ? PacketType::kPubrec : PacketType::kPuback;
  // A QoS 2 PUBLISH again with a packet id already PUBREC'd is the same
  // message (4.3.3): answered, not published twice.
  if (p.qos == 2 && qos2_received_.contains(p.packet_id)) {
    add_answer(Answer{answer_type, p.packet_id, {ReasonCode::kSuccess}, 0});
    return write_answers();
  }
  broker::Destination d{broker::DestinationKind::kTopic, topic_of_mqtt(p.topic), login_.vhost()};
  // A level "*" or ">" would make the Ferry topic a pattern, which cannot be
  // published to.
  if (broker::TopicPatterns::is_pattern(d.name)) {
    if (p.qos > 0 && v5()) {
      add_answer(Answer{answer_type, p.packet_id, {ReasonCode::kTopicNameInvalid}, 0});
      return write_answers();
    }
    return fail(ReasonCode::kTopicNameInvalid, "a topic level '*' or '>' (a wildcard in Ferry's topics)");
  }
  if (Status allowed = login_.check(auth::Access::kWrite, d); !allowed) {
    spdlog::debug("connection {} ({}): MQTT PUBLISH refused: {}", log_id_, transport_.peer(), allowed.error().text());
    if (p.qos > 0 && v5()) {
      add_answer(Answer{answer_type, p.packet_id, {ReasonCode::kNotAuthorized}, 0});
      return write_answers();
    }
    return fail(ReasonCode::kNotAuthorized, allowed.error().text());
  }
  ++messages_in_;
  const bool retain = p.retain && retained_ != nullptr;
  broker::MessageRef m = build_message(p.topic, p.payload, p.qos, v5() ? extras_of(p.properties) : Extras{}, retain);
  // Retained: kept (an empty payload clears), then published as any other
  // message (spec 3.3.1.3). A QoS 1/2 answer waits for the retained store's
  // file too.
  std::function<void(const Status&)> written;
  std::uint64_t retained_op = 0;
  std::uint64_t seq = 0;
  if (p.qos > 0) {
    seq = add_answer(Answer{answer_type, p.packet_id, {ReasonCode::kSuccess}, 0, {}});
    if (p.qos == 2) {
      qos2_received_.insert(p.packet_id);
      // A persistent session's PUBREC waits for the message and then for
      // its packet id to be on disk (write_answers): after a restart, the
      // client's resent PUBLISH is still known.
      if (saves_qos2()) {
        qos2_pending_.insert(p.packet_id);
        answers_.back().saves_flows = true;
      }
    }
    if (retain) {
      retained_op = begin_op(seq, 0);
      std::weak_ptr<int> alive = alive_;
      broker::Broker* broker = &broker_;
      written = [this, alive, broker, shard = shard_, retained_op](const Status& st) {  // the store's thread
        broker::Outcome o = st ? broker::Outcome::success() : broker::Outcome::failure(st.error().text());
        broker->post(shard, [this, alive, retained_op, o = std::move(o)]() mutable {
          if (alive.expired()) return;
          on_complete(retained_op, std::move(o));
        });
      };
    }
  }
  if (retain) {
    if (Status kept = retained_->set(login_.vhost(), std::string(p.topic), m, std::move(written)); !kept) {
      // Past mqtt-max-retained(-bytes): refused, not published.
      spdlog::info("connection {} ({}): MQTT retained PUBLISH to '{}' refused: {}", log_id_, transport_.peer(),
                   log_safe(p.topic), kept.error().text());
      if (p.qos > 0 && v5()) {
        Answer& a = answers_[seq - answers_base_];
        a.reasons[0] = ReasonCode::kQuotaExceeded;
        --a.waiting;
        ops_.erase(retained_op);
        if (p.qos == 2) {
          qos2_received_.erase(p.packet_id);
          qos2_pending_.erase(p.packet_id);
          a.saves_flows = false;
        }
        return write_answers();
      }
      return fail(ReasonCode::kQuotaExceeded, kept.error().text());
    }
  }
  if (p.qos == 0) {
    (void)broker_.publish(d, std::move(m), ticket(0));  // nobody waits for the outcome
    return;
  }
  const std::uint64_t op = begin_op(seq, 0);
  // A topic message may go to wildcard subscriptions too: one answer each.
  expect_outcomes(op, broker_.publish(d, std::move(m), ticket(op)));
  if (answers_.size() > 1000) transport_.pause_reading();  // resumed as answers go out
}

void MqttSession::handle_pub_response(const mqtt::PubResponse& p) {
  switch (p.type) {
    case PacketType::kPuback: {
      auto it = inflight_.find(p.packet_id);
      // Not ours, answered twice, or a QoS 2 one: nothing to do.
      if (it == inflight_.end() || it->second.qos != 1) return;
      const Inflight f = it->second;
      inflight_.erase(it);
      release(f);
      return send_waiting();
    }
    case PacketType::kPubrel: {
      // The second half of an incoming QoS 2 flow: PUBCOMP (MQTT 5: 0x92
      // if the packet id was not waiting for it).
      const bool known = qos2_received_.erase(p.packet_id) != 0;
      add_answer(Answer{PacketType::kPubcomp, p.packet_id,
                        {known ? ReasonCode::kSuccess : ReasonCode::kPacketIdentifierNotFound}, 0});
      // A persistent session's PUBCOMP waits for the packet id to be off
      // the disk: once the client has it, the id may be used again for a
      // new message, which a restart must not take for a resend.
      if (known && saves_qos2()) answers_.back().saves_flows = true;
      return write_answers();
    }
    case PacketType::kPubrec: {
      // The first half of an outgoing QoS 2 flow (spec 4.3.3): the message
      // is the client's now; PUBREL, then the packet id waits for PUBCOMP.
      auto it = inflight_.find(p.packet_id);
      if (it == inflight_.end() || it->second.qos != 2) {
        // MQTT 5: PUBREL 0x92 (Packet Identifier not found); 3.1.1 has no
        // code, and a PUBREL for it ends the client's flow as well.
        mqtt::encode_pub_response(level_, mqtt::PubResponse{PacketType::kPubrel, p.packet_id,
                                                            ReasonCode::kPacketIdentifierNotFound, {}},
                                  transport_.output());
        transport_.flush();
        return;
      }
      if (!it->second.released) {
        it->second.released = true;
        release(it->second);
      }
      if (mqtt::is_error(p.reason)) {
        // MQTT 5: a PUBREC with an error ends the flow; no PUBREL.
        inflight_.erase(it);
        if (saves_qos2()) save_qos2(0);
        return send_waiting();
      }
      if (saves_qos2()) {
        // A persistent session: the PUBREL goes once its packet id is on
        // disk, to be sent again after a restart (the message is the
        // client's: acknowledged in the session queue above).
        std::weak_ptr<int> alive = alive_;
        broker::Broker* broker = &broker_;
        const std::uint16_t id = p.packet_id;
        qos2_ids_->save(MqttWills::key_of(login_.vhost(), client_id_), qos2_flows(),
                        expiry_in_use_.value_or(session_expiry_s_),
                        [this, alive, broker, shard = shard_, id](const Status&) {  // the store's thread
                          broker->post(shard, [this, alive, id] {
                            if (alive.expired() || closing_) return;
                            mqtt::encode_pub_response(
                                level_, mqtt::PubResponse{PacketType::kPubrel, id, ReasonCode::kSuccess, {}},
                                transport_.output());
                            transport_.flush();
                          });
                        });
        return;
      }
      mqtt::encode_pub_response(level_, mqtt::PubResponse{PacketType::kPubrel, p.packet_id, ReasonCode::kSuccess, {}},
                                transport_.output());
      transport_.flush();
      return;
    }
    case PacketType::kPubcomp: {
      auto it = inflight_.find(p.packet_id);
      if (it == inflight_.end() || !it->second.released) return;  // not waiting for it: nothing to do
      inflight_.erase(it);
      if (saves_qos2()) save_qos2(0);
      return send_waiting();
    }
    default:
      FERRY_ASSERT(false);
  }
}

void MqttSession::release(const Inflight& f) {
  if (f.sub == kSessionQueueSub) {
    broker_.settle(session_owner_, session_key(), broker::DeliverySeqs{f.seq}, broker::SettleAction::kAck, ticket(0));
  } else if (auto fi = filter_of_.find(f.sub.value); fi != filter_of_.end()) {
    const Sub& s = subs_.find(fi->second)->second;
    if (s.shared) broker_.settle(s.owner, key_of(s), broker::DeliverySeqs{f.seq}, broker::SettleAction::kAck, ticket(0));
    else broker_.credit(s.owner, key_of(s), 1, f.bytes);
  }
}

void MqttSession::send_waiting() {
  // Room for a delivery that waited for the client's Receive Maximum.
  while (!waiting_.empty() && inflight_.size() < client_receive_maximum_) {
    Waiting w = std::move(waiting_.front());
    waiting_.pop_front();
    if (w.sub == kSessionQueueSub) {
      deliver_queued(std::move(w.delivery));
      continue;
    }
    if (w.sub == kRetainedSub) {
      Sub r;
      r.no = kRetainedSub;
      r.filter = std::move(w.filter);
      r.qos = w.qos;
      if (auto it = subs_.find(r.filter); it != subs_.end()) r.subscription_id = it->second.subscription_id;
      write_publish(r, w.qos, std::move(w.delivery), true);
      continue;
    }
    auto fi = filter_of_.find(w.sub.value);
    if (fi == filter_of_.end()) continue;
    const Sub& s = subs_.find(fi->second)->second;
    write_publish(s, s.qos, std::move(w.delivery));
  }
}

// ---------------------------------------------------------------- answers

std::uint64_t MqttSession::add_answer(Answer a) {
  answers_.push_back(std::move(a));
  return answers_base_ + answers_.size() - 1;
}

std::uint64_t MqttSession::begin_op(std::uint64_t seq, std::uint32_t slot) {
  const std::uint64_t op = ++next_op_;
  ops_[op] = PendingOp{seq, slot, 1};
  answers_[seq - answers_base_].waiting += 1;
  return op;
}

void MqttSession::expect_outcomes(std::uint64_t op, std::uint32_t n) {
  if (n == 1) return;
  PendingOp& p = ops_.at(op);
  Answer& a = answers_[p.seq - answers_base_];
  a.waiting = a.waiting + n - 1;
  p.outcomes = n;
  if (n == 0) {
    ops_.erase(op);
    write_answers();
  }
}

void MqttSession::on_complete(std::uint64_t op, broker::Outcome outcome) {
  if (op == 0 || closing_) return;
  if (op == attach_op_) {
    if (!outcome.ok) return on_session_refused(outcome);
    if (--attach_answers_ == 0) on_session_attached();
    return;
  }
  auto it = ops_.find(op);
  if (it == ops_.end()) return;
  const PendingOp pending = it->second;
  FERRY_ASSERT(pending.seq >= answers_base_ && pending.seq - answers_base_ < answers_.size());
  Answer& a = answers_[pending.seq - answers_base_];
  FERRY_ASSERT(a.waiting > 0);
  if (!outcome.ok) {
    spdlog::debug("connection {} ({}): MQTT operation failed: {}", log_id_, transport_.peer(), log_safe(outcome.error));
    a.reasons[pending.slot] = outcome.needs_configure ? ReasonCode::kNotAuthorized : ReasonCode::kUnspecifiedError;
    if (auto fi = filter_of_.find(pending.sub.value); pending.sub.value != 0 && fi != filter_of_.end()) {
      auto sub = subs_.find(fi->second);
      // A shared subscription whose binding failed may have its consumer.
      if (sub->second.shared) {
        broker_.unsubscribe(sub->second.owner, key_of(sub->second), false, ticket(0));
        if (queued_) change_binding(sub->second, false, 0);
      }
      subs_.erase(sub);  // refused: there is no such subscription
      filter_of_.erase(fi);
    }
    if (pending.declares && it->second.outcomes > 1) {
      // A failed declaration is its SUBSCRIBE's only answer.
      a.waiting -= it->second.outcomes - 1;
      it->second.outcomes = 1;
    }
  }
  --a.waiting;
  if (--it->second.outcomes == 0) ops_.erase(it);
  write_answers();
}

void MqttSession::write_answers() {
  bool wrote = false;
  while (!answers_.empty() && answers_.front().waiting == 0) {
    Answer& a = answers_.front();
    if (a.saves_flows) {
      // A persistent session's PUBREC (its message is published) or
      // PUBCOMP: the QoS 2 flows are saved first, and it goes out then.
      a.saves_flows = false;
      const bool ok = !mqtt::is_error(a.reasons.front());
      if (a.type == PacketType::kPubrec) {
        qos2_pending_.erase(a.packet_id);
        if (!ok) qos2_received_.erase(a.packet_id);
      }
      if (ok && saves_qos2()) {
        save_qos2(begin_op(answers_base_, 0));
        continue;  // waits for the save
      }
    }
    std::string& out = transport_.output();
    switch (a.type) {
      case PacketType::kPuback:
      case PacketType::kPubrec:
      case PacketType::kPubcomp: {
        mqtt::PubResponse r{a.type, a.packet_id, a.reasons.front(), {}};
        // A failed QoS 2 message was not received: its packet id is free.
        if (a.type == PacketType::kPubrec && mqtt::is_error(r.reason)) qos2_received_.erase(a.packet_id);
        mqtt::encode_pub_response(level_, r, out);
        break;
      }
      case PacketType::kSuback: {
        mqtt::encode_suback(level_, mqtt::Suback{a.packet_id, {}, a.reasons}, out);
        auto retained = std::move(a.retained);
        for (auto& [slot, filter, qos] : retained)
          if (!mqtt::is_error(a.reasons[slot])) send_retained(filter, qos);
        break;
      }
      case PacketType::kUnsuback:
        mqtt::encode_unsuback(level_, mqtt::Unsuback{a.packet_id, {}, a.reasons}, out);
        break;
      default:
        FERRY_ASSERT(false);
    }
    answers_.pop_front();
    ++answers_base_;
    wrote = true;
  }
  if (wrote) {
    transport_.flush();
    if (answers_.size() <= 1000 && connected_ && !closing_ && !holding()) transport_.resume_reading();
  }
}

// ---------------------------------------------------------------- SUBSCRIBE

void MqttSession::handle_subscribe(const mqtt::Subscribe& s) {
  // MQTT 5: at most one Subscription Identifier, given to every filter of
  // the packet (spec 3.8.2.1.2).
  if (s.properties.subscription_identifiers.size() > 1)
    return fail(ReasonCode::kProtocolError, "more than one subscription identifier in a SUBSCRIBE");
  const std::uint32_t subscription_id =
      s.properties.subscription_identifiers.empty() ? 0 : s.properties.subscription_identifiers.front();
  const std::uint64_t seq = add_answer(Answer{PacketType::kSuback, s.packet_id, {}, 0});
  answers_[seq - answers_base_].reasons.resize(s.subscriptions.size(), ReasonCode::kSuccess);
  // The answer waits for the subscriptions (so that a PUBLISH after SUBACK
  // reaches them); a placeholder op keeps it from going out before the loop
  // below has started them all.
  answers_[seq - answers_base_].waiting += 1;
  for (std::uint32_t i = 0; i < s.subscriptions.size(); ++i) {
    const mqtt::Subscription& want = s.subscriptions[i];
    auto& reason = answers_[seq - answers_base_].reasons[i];
    mqtt::TopicFilter f;
    if (mqtt::parse_topic_filter(want.filter, f) != ReasonCode::kSuccess) {
      reason = ReasonCode::kTopicFilterInvalid;  // 3.1.1: 0x80
      continue;
    }
    const bool shared = !f.share_group.empty();
    // Spec 3.8.3.1: no-local on a shared subscription is a protocol error.
    if (shared && v5() && want.options.no_local)
      return fail(ReasonCode::kProtocolError, "no-local on a shared subscription");
    if (shared && std::any_of(want.filter.begin(), want.filter.end(),
                              [](char ch) { return static_cast<unsigned char>(ch) < 0x20; })) {
      reason = ReasonCode::kTopicFilterInvalid;  // the group's queue could not be named in the journal
      continue;
    }
    const std::uint8_t granted = want.options.qos;  // 0, 1 or 2 (the decoder refused 3)
    broker::Destination d{broker::DestinationKind::kTopic, pattern_of_filter(f.filter), login_.vhost()};
    if (Status checked = broker::TopicPatterns::check(d.name); !checked) {
      reason = ReasonCode::kTopicFilterInvalid;
      continue;
    }
    // A literal '*' or '>' level in a filter would become a Ferry wildcard.
    if (!f.has_wildcard && broker::TopicPatterns::is_pattern(d.name)) {
      reason = ReasonCode::kTopicFilterInvalid;
      continue;
    }
    if (!login_.may(auth::Access::kRead, d)) {
      reason = ReasonCode::kNotAuthorized;
      continue;
    }
    const bool no_local = v5() && want.options.no_local;
    if (auto existing = subs_.find(want.filter); existing != subs_.end()) {
      // Spec 3.8.4: the same filter again replaces the subscription's
      // options; the messages flow on.
      Sub& was = existing->second;
      reason = static_cast<ReasonCode>(granted);
      // Retain Handling 0: retained messages again on every SUBSCRIBE.
      if (want.options.retain_handling == 0 && !shared)
        answers_[seq - answers_base_].retained.emplace_back(i, std::string(want.filter), granted);
      if ((was.bound || (was.shared && queued_)) &&
          (was.qos != granted || was.no_local != no_local || was.subscription_id != subscription_id ||
                        was.retain_as_published != (v5() && want.options.retain_as_published))) {
        // A session's binding keeps the options: the old one goes, the new
        // one comes (in this order, on shard 0).
        change_binding(was, false, 0);
        was.qos = granted;
        was.no_local = no_local;
        was.retain_as_published = v5() && want.options.retain_as_published;
        was.subscription_id = subscription_id;
        change_binding(was, true, begin_op(seq, i));
        continue;
      }
      was.qos = granted;
      was.retain_as_published = v5() && want.options.retain_as_published;
      was.subscription_id = subscription_id;
      continue;
    }
    if (subs_.size() >= max_subscriptions_) {
      reason = ReasonCode::kQuotaExceeded;
      continue;
    }
    Sub sub;
    sub.no = SubscriptionNo(++next_sub_no_);
    sub.filter = std::string(want.filter);
    sub.destination = std::move(d);
    sub.owner = broker_.owner_of(sub.destination);
    sub.qos = granted;
    sub.no_local = no_local;
    sub.retain_as_published = v5() && want.options.retain_as_published;
    sub.subscription_id = subscription_id;
    reason = static_cast<ReasonCode>(granted);
    // Retain Handling 0 and 1: the retained messages follow the SUBACK of a
    // new subscription (2: none).
    // Not for a shared subscription (spec 4.8.2).
    if (want.options.retain_handling != 2 && !shared)
      answers_[seq - answers_base_].retained.emplace_back(i, std::string(want.filter), granted);
    if (shared) {
      // The group's queue: declared (x-expires: it goes, with its binding,
      // once the group has had no member for that long), bound to
      // amq.topic with the filter's pattern (idempotent: every member binds
      // the same), consumed by each member; SUBACK once both are in place.
      sub.shared = true;
      const std::string key = sub.destination.name;
      sub.destination = broker::Destination{broker::DestinationKind::kQueue,
                                            "mqtt-share/" + std::string(f.share_group) + "/" + std::string(f.filter),
                                            login_.vhost()};
      sub.owner = broker_.owner_of(sub.destination);
      if (!login_.may(auth::Access::kRead, sub.destination)) {
        reason = ReasonCode::kNotAuthorized;
        continue;
      }
      filter_of_[sub.no.value] = sub.filter;
      auto [it, added] = subs_.emplace(sub.filter, std::move(sub));
      const Sub& member = it->second;
      const std::uint64_t op = begin_op(seq, i);
      ops_[op].sub = member.no;
      ops_[op].declares = true;
      expect_outcomes(op, 2);
      const std::uint64_t bind_op = begin_op(seq, i);
      ops_[bind_op].sub = member.no;
      join_group(member, key, op, bind_op);
      if (queued_) {
        // Kept with a persistent session (binding_of): it comes back when
        // the session resumes.
        const std::uint64_t keep_op = begin_op(seq, i);
        ops_[keep_op].sub = member.no;
        change_binding(member, true, keep_op);
      }
      continue;
    }
    if (queued_) {
      // A session's subscription is a binding of its queue; SUBACK once
      // every shard routes through it.
      sub.bound = true;
      sub.owner = session_owner_;
      filter_of_[sub.no.value] = sub.filter;
      auto [it, added] = subs_.emplace(sub.filter, std::move(sub));
      const std::uint64_t op = begin_op(seq, i);
      ops_[op].sub = it->second.no;
      change_binding(it->second, true, op);
      continue;
    }
    const broker::Window window = subscriber_window();
    broker::ConsumerOptions options;
    options.no_local = v5() && want.options.no_local;
    const bool may_create = login_.may(auth::Access::kConfigure, sub.destination);
    filter_of_[sub.no.value] = sub.filter;
    auto [it, added] = subs_.emplace(sub.filter, std::move(sub));
    const std::uint64_t op = begin_op(seq, i);
    ops_[op].sub = it->second.no;
    broker_.subscribe(it->second.destination, key_of(it->second), broker::AckMode::kAuto, window, std::nullopt,
                      ticket(op), may_create, std::move(options));
  }
  answers_[seq - answers_base_].waiting -= 1;
  write_answers();
}

void MqttSession::handle_unsubscribe(const mqtt::Unsubscribe& u) {
  const std::uint64_t seq = add_answer(Answer{PacketType::kUnsuback, u.packet_id, {}, 0});
  answers_[seq - answers_base_].waiting += 1;
  for (std::uint32_t i = 0; i < u.filters.size(); ++i) {
    auto it = subs_.find(u.filters[i]);
    if (it == subs_.end()) {
      answers_[seq - answers_base_].reasons.push_back(ReasonCode::kNoSubscriptionExisted);
      continue;
    }
    answers_[seq - answers_base_].reasons.push_back(ReasonCode::kSuccess);
    Sub gone = std::move(it->second);
    subs_.erase(it);
    filter_of_.erase(gone.no.value);
    written_.erase(gone.no.value);
    flushing_.erase(gone.no.value);
    const std::uint64_t op = begin_op(seq, i);
    if (gone.bound) {
      change_binding(gone, false, op);
      continue;
    }
    if (gone.shared && queued_) change_binding(gone, false, 0);  // no longer kept with the session
    broker_.unsubscribe(gone.owner, key_of(gone), false, ticket(op));
  }
  answers_[seq - answers_base_].waiting -= 1;
  write_answers();
}

// ---------------------------------------------------------------- deliveries

void MqttSession::on_delivery(SubscriptionNo no, broker::Delivery d) {
  // Closing: a held delivery of the session queue goes back to it with
  // the consumer (on_closed); a topic subscription's is gone with it.
  if (released_ || closing_) return;
  if (no == kSessionQueueSub) return deliver_queued(std::move(d));
  auto fi = filter_of_.find(no.value);
  if (fi == filter_of_.end()) return;  // unsubscribed meanwhile: the queue took it back
  const Sub& s = subs_.find(fi->second)->second;
  write_publish(s, s.qos, std::move(d));
}

void MqttSession::settle_unsent(SubscriptionNo sub, const broker::Delivery& d) {
  if (sub == kSessionQueueSub) {
    broker_.settle(session_owner_, session_key(), broker::DeliverySeqs{d.seq}, broker::SettleAction::kAck, ticket(0));
    return;
  }
  auto fi = filter_of_.find(sub.value);
  if (fi == filter_of_.end()) return;
  const Sub& s = subs_.find(fi->second)->second;
  if (s.shared) broker_.settle(s.owner, key_of(s), broker::DeliverySeqs{d.seq}, broker::SettleAction::kAck, ticket(0));
  else broker_.credit(s.owner, key_of(s), 1, d.message->body.size());
}

void MqttSession::write_publish(const Sub& s, std::uint8_t granted, broker::Delivery d, bool retained) {
  const broker::Message& m = *d.message;
  // A session's binding delivers through the session queue's consumer.
  const SubscriptionNo via = s.bound ? kSessionQueueSub : s.no;
  std::uint8_t qos = granted;
  // An MQTT message goes at most at the QoS it was published with.
  if (const std::string* q = m.header(kQosHeader); q != nullptr && q->size() == 1 && (*q)[0] >= '0' && (*q)[0] < '0' + qos)
    qos = static_cast<std::uint8_t>((*q)[0] - '0');
  if (qos > 0 && inflight_.size() >= client_receive_maximum_) {
    waiting_.push_back(Waiting{via, std::move(d), granted, retained ? s.filter : std::string()});
    return;
  }
  const std::string topic = mqtt_topic_of_destination(m.destination);
  // MQTT 5: the message's headers as properties (docs/mqtt.md): the views
  // point into `m` and `response_topic`, alive until encoded below.
  mqtt::Properties props;
  std::string response_topic;
  std::size_t props_size = 0;
  if (v5()) {
    if (m.expires_ms != 0) {
      const std::int64_t left_ms = std::max<std::int64_t>(m.expires_ms - wall_ms(), 1);
      props.message_expiry_interval = static_cast<std::uint32_t>(std::min<std::int64_t>((left_ms + 999) / 1000, UINT32_MAX));
    }
    for (const auto& [k, v] : m.headers) {
      if (k == kQosHeader || k == kRetainHeader || k == "persistent" || k == "expires" || k.size() > 0xFFFF || v.size() > 0xFFFF) continue;
      if (k == "content-type" && !props.content_type) {
        props.content_type = v;
      } else if (k == "reply-to" && v.starts_with("/topic/") && !props.response_topic) {
        response_topic = mqtt_topic_of_destination(v);
        props.response_topic = response_topic;
      } else if (k == "correlation-id" && !props.correlation_data) {
        props.correlation_data = v;
      } else {
        props.user_properties.push_back({k, v});
      }
    }
    // Subscription Identifiers (spec 3.3.2.3.8): the subscription's; from
    // the session queue, those of every filter of the session that matches.
    if (s.bound) {
      for (const auto& [f, other] : subs_)
        if (other.bound && other.subscription_id != 0 && mqtt::topic_matches(f, topic))
          props.subscription_identifiers.push_back(other.subscription_id);
    } else if (s.subscription_id != 0) {
      props.subscription_identifiers.push_back(s.subscription_id);
    }
  }
  // Topic aliases towards the client (MQTT 5, spec 3.3.2.3.4), as many as
  // its Topic Alias Maximum allows (at most kServerTopicAliases): the first
  // PUBLISH to a topic sets an alias, the next ones send it with an empty
  // topic. Once all are given, other topics go in full.
  std::string_view wire_topic = topic;
  std::uint16_t new_alias = 0;
  if (client_topic_alias_maximum_ != 0) {
    if (auto a = topic_alias_of_.find(topic); a != topic_alias_of_.end()) {
      props.topic_alias = a->second;
      wire_topic = {};
    } else if (topic_alias_of_.size() < client_topic_alias_maximum_) {
      new_alias = static_cast<std::uint16_t>(topic_alias_of_.size() + 1);
      props.topic_alias = new_alias;
    }
  }
  if (v5()) props_size = mqtt::properties_block(mqtt::PropertyPlace::kPublish, props).size();
  // Too large for the client (its Maximum Packet Size), or a name MQTT
  // cannot carry (a STOMP topic named with '+' or '#'): not sent, as if
  // delivered (spec 3.1.2-25), its credit returned.
  const std::size_t remaining = 2 + wire_topic.size() + (qos > 0 ? 2 : 0) + props_size + m.body.size();
  const std::size_t size = 1 + mqtt::variable_int_size(static_cast<std::uint32_t>(std::min<std::size_t>(remaining, mqtt::kMaxVariableByteInteger))) + remaining;
  // Spec 4.7.2-1: a filter starting with a wildcard does not match topic
  // names starting with '$' (Ferry's wildcard topics do not know the rule).
  std::string_view filter = s.filter;
  if (s.shared) filter = filter.substr(filter.find('/', 7) + 1);  // "$share/GROUP/" off
  const bool dollar = !topic.empty() && topic[0] == '$' && !filter.empty() && (filter[0] == '+' || filter[0] == '#');
  if (topic.size() > 0xFFFF || remaining > mqtt::kMaxVariableByteInteger || size > client_max_packet_size_ ||
      mqtt::check_topic_name(topic) != ReasonCode::kSuccess || dollar) {
    spdlog::debug("connection {} ({}): MQTT PUBLISH of {} bytes to '{}' not sent (too large for the client, or not an MQTT topic name)",
                  log_id_, transport_.peer(), size, log_safe(topic));
    settle_unsent(via, d);
    return;
  }
  mqtt::Publish p;
  p.qos = qos;
  // Spec 3.3.1.3: set for a retained message sent to a new subscription;
  // on live deliveries only with MQTT 5's Retain As Published.
  p.retain = retained || (s.retain_as_published && m.header(kRetainHeader) != nullptr);
  p.topic = wire_topic;
  p.properties = std::move(props);
  p.payload = m.body;
  if (new_alias != 0) topic_alias_of_.emplace(topic, new_alias);  // sent: the client knows it now
  if (qos > 0) {
    do {
      ++next_packet_id_;
    } while (next_packet_id_ == 0 || inflight_.contains(next_packet_id_));
    p.packet_id = next_packet_id_;
    // Sent before on a connection that ended without its PUBACK (spec
    // 4.4: re-sent with DUP; under a new packet id, as the old one went
    // with that connection).
    p.dup = s.bound && d.earlier_deliveries > 0;
    inflight_[p.packet_id] = Inflight{via, m.body.size(), d.seq, qos, false};
  } else if (s.bound) {
    // QoS 0 from the session queue: taken once written.
    broker_.settle(session_owner_, session_key(), broker::DeliverySeqs{d.seq}, broker::SettleAction::kAck, ticket(0));
  } else if (s.shared) {
    broker_.settle(s.owner, key_of(s), broker::DeliverySeqs{d.seq}, broker::SettleAction::kAck, ticket(0));
  } else {
    Credit& c = written_[s.no.value];
    ++c.messages;
    c.bytes += m.body.size();
  }
  ++messages_out_;
  mqtt::encode_publish(level_, p, transport_.output());
  // May wait for a later turn behind other connections' deliveries.
  transport_.flush_delivery();
}

void MqttSession::send_retained(const std::string& filter, std::uint8_t qos) {
  if (retained_ == nullptr || closing_) return;
  Sub r;
  r.no = kRetainedSub;  // no broker subscription: nothing to credit or settle
  r.filter = filter;
  r.qos = qos;
  if (auto it = subs_.find(filter); it != subs_.end()) r.subscription_id = it->second.subscription_id;
  for (broker::MessageRef& m : retained_->matching(login_.vhost(), filter))
    write_publish(r, qos, broker::Delivery{std::move(m), DeliverySeq(0), 0}, true);
}

void MqttSession::on_flush_started() {
  for (auto& [no, c] : written_) {
    Credit& f = flushing_[no];
    f.messages += c.messages;
    f.bytes += c.bytes;
  }
  written_.clear();
}

void MqttSession::on_flush_done() {
  // QoS 0 windows refill once the packets have been written to the socket:
  // a subscriber that stops reading stops receiving.
  if (released_) return;
  for (auto& [no, c] : flushing_) {
    auto fi = filter_of_.find(no);
    if (fi == filter_of_.end()) continue;
    const Sub& s = subs_.find(fi->second)->second;
    broker_.credit(s.owner, key_of(s), c.messages, c.bytes);
  }
  flushing_.clear();
}

void MqttSession::on_kick(SubscriptionNo no, std::string reason) {
  if (no.value == 0) return fail(ReasonCode::kSessionTakenOver, reason);  // see claim_client_id
  if (no == kSessionQueueSub) return fail(ReasonCode::kAdministrativeAction, reason);  // its queue was deleted
  auto fi = filter_of_.find(no.value);
  if (fi == filter_of_.end()) return;
  subs_.erase(fi->second);  // the broker already dropped the subscription
  filter_of_.erase(fi);
  fail(ReasonCode::kAdministrativeAction, reason);
}

// ---------------------------------------------------------------- the end

void MqttSession::handle_disconnect(const mqtt::Disconnect& d) {
  const std::optional<std::uint32_t> expiry = v5() ? d.properties.session_expiry_interval : std::nullopt;
  if (expiry.value_or(0) != 0 && !session_expiry_asked_) {
    // 3.14.2.2.2: a session expiry set at DISCONNECT after 0 at CONNECT is
    // a protocol error (DISCONNECT 0x82); the will goes out, as for any
    // close the client caused (fail leaves it armed).
    return fail(ReasonCode::kProtocolError, "session expiry set at DISCONNECT after 0 at CONNECT");
  }
  // A normal DISCONNECT discards the will; MQTT 5's 0x04 asks for it.
  if (d.reason != ReasonCode::kDisconnectWithWill) will_.reset();
  // Expiry 0 at DISCONNECT ends the session with the connection.
  if (expiry == 0u) persistent_ = false;
  else if (expiry && queued_ && persistent_) change_session_expiry(*expiry);
  closing_ = true;
  if (will_armed_ && !will_) {
    // The will is discarded: off the disk before the connection closes, so
    // that a restart right after does not publish it.
    will_armed_ = false;
    std::weak_ptr<int> alive = alive_;
    broker::Broker* broker = &broker_;
    wills_->disarm(id_, MqttWills::key_of(login_.vhost(), client_id_),
                   [this, alive, broker, shard = shard_](const Status&) {  // the file's thread
                     broker->post(shard, [this, alive] {
                       if (!alive.expired()) transport_.close_after_flush();
                     });
                   });
    return;
  }
  transport_.close_after_flush();
}

void MqttSession::change_session_expiry(std::uint32_t expiry_s) {
  session_expiry_s_ = expiry_s;
  expiry_in_use_.reset();  // the will delay and the parked QoS 2 ids follow it
  // The session queue is declared again with the new x-expires: its
  // arguments are set (not compared) and remembered across restarts. Posted
  // before the consumer leaves (unsubscribe_all, on the same shard in
  // order), so that the expiry counts from the connection's end.
  broker::QueueArguments args;
  if (expiry_s != kNeverExpires) args.expires = std::uint64_t{expiry_s} * 1000;
  broker::Broker* broker = &broker_;
  broker_.post(session_owner_, [broker, owner = session_owner_, q = session_queue_, args = std::move(args)] {
    // Gone meanwhile (deleted by an operator): not made again.
    if (!broker->local(owner).queue_stats(q)) return;
    (void)broker->local(owner).declare_queue(q, false, &args);
    if (!broker->remembers_declarations()) return;
    broker->remember_declaration(q, args, [q](const Status& kept) {
      if (!kept)
        spdlog::error("MQTT session {}: its new session expiry is not remembered across a restart: {}",
                      log_safe(q.to_string()), log_safe(kept.error().text()));
    });
  });
}

void MqttSession::fail(ReasonCode code, std::string_view why) {
  if (closing_) return;
  closing_ = true;
  if (static LogRate rate("MQTT connections closed for errors"); rate.allow())
    spdlog::info("connection {} ({}): MQTT {}: {}", log_id_, transport_.peer(), mqtt::describe(code), log_safe(why));
  std::string& out = transport_.output();
  if (!connected_) {
    // Before CONNACK: MQTT 5 answers any refusal with a CONNACK reason code;
    // 3.1.1 only those it has return codes for.
    const bool malformed = code == ReasonCode::kMalformedPacket || code == ReasonCode::kProtocolError ||
                           code == ReasonCode::kTopicNameInvalid || code == ReasonCode::kPacketTooLarge;
    if (code == ReasonCode::kUnsupportedProtocolVersion) {
      // 3.1.1's form: the client's level is one Ferry does not speak.
      mqtt::encode_connack(Level::k3_1_1, mqtt::Connack{false, code, {}}, out);
    } else if (decoder_.level() && (v5() || !malformed)) {
      mqtt::encode_connack(level_, mqtt::Connack{false, code, {}}, out);
    }
  } else if (v5()) {
    mqtt::Disconnect d{code, {}};
    // The reason string only if it keeps the packet within the client's
    // Maximum Packet Size (spec 3.14.2.2.3).
    if (why.size() <= 1024 && why.size() + 8 <= client_max_packet_size_ && mqtt::valid_mqtt_utf8(why))
      d.properties.reason_string = why;
    mqtt::encode_disconnect(level_, d, out);
  }
  transport_.close_after_flush();
}

void MqttSession::close_with_error(std::string_view reason, std::string_view detail) {
  ReasonCode code = ReasonCode::kUnspecifiedError;
  if (reason == net::errors::kClosedByAdministrator) code = ReasonCode::kAdministrativeAction;
  else if (reason == net::errors::kConnectTimeout) code = ReasonCode::kMaximumConnectTime;
  else if (reason == net::errors::kTooManyConnections) code = ReasonCode::kServerBusy;
  fail(code, detail.empty() ? reason : detail);
}

void MqttSession::on_end_of_input() {
  // The client went without DISCONNECT: the will goes out (on_closed).
  if (closing_) return;
  closing_ = true;
  transport_.close_after_flush();
}

void MqttSession::tick(std::int64_t now_ms) {
  if (refuse_at_ms_ != 0 && now_ms >= refuse_at_ms_ && !closing_) {
    refuse_at_ms_ = 0;
    return fail(refusal_, "login refused");
  }
  if (connected_ && !client_id_held_) claim_client_id();
  // Spec 3.1.2.10: one and a half times the keep-alive without a packet.
  if (connected_ && !closing_ && !awaiting_claim_ && keep_alive_s_ != 0 &&
      now_ms - last_input_ms_ > std::int64_t{keep_alive_s_} * 1500) {
    fail(ReasonCode::kKeepAliveTimeout, fmt::format("nothing received for 1.5 x keep-alive ({} s)", keep_alive_s_));
  }
}

std::optional<MqttWills::Will> MqttSession::make_will(const WillMessage& w) {
  broker::Destination d{broker::DestinationKind::kTopic, topic_of_mqtt(w.topic), login_.vhost()};
  if (broker::TopicPatterns::is_pattern(d.name) || !login_.may(auth::Access::kWrite, d)) return std::nullopt;
  const bool retain = w.retain && retained_ != nullptr;
  broker::MessageRef m = build_message(w.topic, w.payload, w.qos, w.extras, retain);
  return MqttWills::Will{std::move(d), std::move(m), w.topic, retain, w.extras.expiry_s.value_or(0)};
}

std::uint32_t MqttSession::will_delay_s(std::uint32_t delay_s) const {
  const std::uint32_t session_s = persistent_ ? expiry_in_use_.value_or(session_expiry_s_) : 0;
  return std::min(delay_s, session_s);
}

bool MqttSession::arm_will() {
  if (!will_ || will_armed_ || wills_ == nullptr || !wills_->persists()) return false;
  std::optional<MqttWills::Will> w = make_will(*will_);
  if (!w) return false;  // not published either (publish_will)
  will_armed_ = true;
  arming_ = true;
  std::weak_ptr<int> alive = alive_;
  broker::Broker* broker = &broker_;
  wills_->arm(id_, MqttWills::key_of(login_.vhost(), client_id_), *w, will_delay_s(will_->delay_s),
              [this, alive, broker, shard = shard_](const Status& st) {  // the file's thread
                broker->post(shard, [this, alive, st] {
                  if (alive.expired() || closing_) return;
                  arming_ = false;
                  if (!st) spdlog::warn("connection {} ({}): MQTT will not kept on disk: {}", log_id_,
                                        transport_.peer(), st.error().text());
                  finish_connect();
                  // Packets that came meanwhile are read now (pause first:
                  // resuming parses what is buffered only when paused).
                  if (!holding()) {
                    transport_.pause_reading();
                    transport_.resume_reading();
                  }
                });
              });
  return true;
}

void MqttSession::publish_will() {
  if (!will_ || !connected_) return;
  WillMessage w = std::move(*will_);
  will_.reset();
  std::optional<MqttWills::Will> will = make_will(w);
  if (!will) {
    spdlog::debug("connection {} ({}): MQTT will to '{}' not published (not permitted)", log_id_,
                  transport_.peer(), log_safe(w.topic));
    return;
  }
  // MQTT 5 will delay: published once the delay or the session, whichever
  // is shorter, has run out, unless the client comes back to the session
  // first (MqttWills). A session that ends with the connection: at once.
  const std::uint32_t delay_s = will_delay_s(w.delay_s);
  if (delay_s != 0 && wills_ != nullptr) {
    wills_->defer(MqttWills::key_of(login_.vhost(), client_id_), std::move(*will),
                  mono_ms() + std::int64_t{delay_s} * 1000);
    return;
  }
  if (will->retain) {
    if (Status kept = retained_->set(login_.vhost(), will->topic, will->message, {}); !kept)
      spdlog::info("connection {} ({}): MQTT will to '{}' not retained: {}", log_id_, transport_.peer(),
                   log_safe(will->topic), kept.error().text());
  }
  (void)broker_.publish(will->destination, std::move(will->message), ticket(0));
}

void MqttSession::unsubscribe_all() {
  for (auto& [filter, s] : subs_)
    if (!s.bound) broker_.unsubscribe(s.owner, key_of(s), false, ticket(0));
  if (queued_) {
    // What was sent and not PUBACKed goes back to the session queue, for
    // the next connection (DUP). Closed while attaching: the consumer is
    // there once the SUBSCRIBE lands, posted before this from this shard.
    broker_.unsubscribe(session_owner_, session_key(), false, ticket(0));
    // A session that ends with its connection goes (after the consumer).
    if (!persistent_) delete_session();
  }
  subs_.clear();
  filter_of_.clear();
  inflight_.clear();
  waiting_.clear();
}

void MqttSession::on_closed() {
  if (released_) return;
  released_ = true;
  closing_ = true;
  publish_will();  // a will still armed: the connection ended without DISCONNECT
  if (will_armed_) wills_->disarm(id_, MqttWills::key_of(login_.vhost(), client_id_));
  // Open QoS 2 flows outlive the connection with its session: inbound ones
  // waiting for PUBREL, outbound ones waiting for PUBCOMP.
  // (Those whose PUBREC has not gone out are not: the client sends them
  // again, and their messages may not be published yet.)
  if (saves_qos2()) {
    qos2_ids_->park(MqttWills::key_of(login_.vhost(), client_id_), qos2_flows(),
                    expiry_in_use_.value_or(session_expiry_s_));
  } else if (qos2_ids_ != nullptr && client_id_held_) {
    qos2_ids_->forget(MqttWills::key_of(login_.vhost(), client_id_));  // the session ends with the connection
  }
  unsubscribe_all();
  release_client_id();
  ops_.clear();
  answers_.clear();
  clients_.remove(shard_, id_);
}

void MqttSession::describe(net::ConnectionInfo& i) const {
  if (!login_.user().empty()) i.user = login_.user();
  i.vhost = login_.vhost();
  // The id the broker knows the connection by (kIdBit set): the management
  // API shows it, so that consumer details find the connection, and maps it
  // back to the MQTT server's own when closing it.
  i.id = id_;
  i.protocol = v5() ? "MQTT 5.0" : "MQTT 3.1.1";  // RabbitMQ's spelling
  if (connected_) i.client_properties.emplace_back("client_id", client_id_);
  i.connected_at_ms = connected_at_ms_;
  i.connected = connected_;
  i.subscriptions = subs_.size();
  i.unacked = inflight_.size();
  i.messages_in = messages_in_;
  i.messages_out = messages_out_;
}

}  // namespace ferry::session
