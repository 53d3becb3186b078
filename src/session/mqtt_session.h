#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "auth/authenticator.h"
#include "broker/broker.h"
#include "broker/client_events.h"
#include "broker/delivery.h"
#include "broker/destination.h"
#include "broker/stats.h"
#include "mqtt/decoder.h"
#include "mqtt/packet.h"
#include "mqtt/reason_code.h"
#include "net/protocol.h"
#include "net/transport.h"
#include "session/clients.h"
#include "session/login.h"
#include "session/mqtt_qos2_ids.h"
#include "session/mqtt_retained.h"
#include "session/mqtt_wills.h"

namespace ferry::session {

// What every MQTT session of a server shares; outlives them.
struct MqttContext {
  broker::Broker& broker;
  Clients& clients;
  // null: no authentication (every client is let in, in vhost "/"; tests).
  auth::Authenticator* authenticator = nullptr;
  // The largest packet accepted (fixed header included): larger is refused
  // with DISCONNECT 0x95 (MQTT 5) or a close (3.1.1). max-frame-size.
  std::size_t max_packet_size = 16u << 20;
  std::uint32_t max_subscriptions = 1000;  // per connection (max-subscriptions)
  // Retained messages of every vhost; null: not offered (MQTT 5 CONNACK
  // says Retain Available 0, a retained PUBLISH is refused).
  MqttRetained* retained = nullptr;
  // MQTT 5 wills waiting out their Will Delay Interval; null: a will goes
  // out at once (unit tests).
  MqttWills* wills = nullptr;
  // Inbound QoS 2 packet ids a persistent session keeps between its
  // connections; null: they are the connection's (unit tests).
  MqttQos2Ids* qos2_ids = nullptr;
  // Set in the broker's ids of these sessions besides MqttSession::kIdBit:
  // MqttSession::kStompWsBit for those the STOMP WebSocket listeners carry
  // (at mqtt-ws-path), whose connection ids are the STOMP server's.
  std::uint64_t id_bits = 0;
};

// The listeners' factory of MQTT sessions (mqtt-listen).
net::ProtocolFactory mqtt_protocol(const MqttContext& context);

// One client's MQTT 3.1.1 or 5 conversation (docs/mqtt.md): decodes the
// connection's bytes into packets (mqtt::Decoder) and turns them into
// broker operations on topics, and deliveries into PUBLISH packets.
//
// What it does: CONNECT with the STOMP listeners' authenticator (users,
// `vhost:user` logins, permissions), keep-alive (closed after 1.5 x the
// client's interval of silence), PUBLISH QoS 0, 1 and 2 from the client
// (QoS 2 acknowledged with PUBREC/PUBCOMP, duplicates within the connection
// suppressed by packet id), SUBSCRIBE with `+`/`#` on Ferry's wildcard
// topics (granted QoS at most 1), UNSUBSCRIBE, PINGREQ, DISCONNECT, the
// will message when the connection ends without DISCONNECT, session
// takeover by client id, MQTT 5 properties as STOMP headers, persistent
// sessions (a queue and its bindings, below) and retained messages
// (MqttRetained), shared subscriptions (a queue per group).
//
// Its connection ids live in their own range (kIdBit): the MQTT listener is
// a second net::Server, whose ids would otherwise repeat the STOMP
// server's in the shard's session::Clients table.
//
// Owned by its connection; every method runs on the connection's shard.
class MqttSession final : public net::Protocol, public broker::Client {
 public:
  static constexpr std::uint64_t kIdBit = std::uint64_t{1} << 47;
  // MQTT on a STOMP WebSocket listener (ws://HOST:PORT/mqtt): the STOMP
  // server numbers the connection, so a second bit keeps its id apart from
  // both servers' own (the management API closes it through the STOMP
  // server).
  static constexpr std::uint64_t kStompWsBit = std::uint64_t{1} << 46;

  MqttSession(const MqttContext& context, net::Transport& transport, ShardId shard, ConnectionId id);
  ~MqttSession() override;

  // net::Protocol
  std::size_t on_bytes(std::span<char> data) override;
  bool yielded() const override { return yielded_; }
  void on_end_of_input() override;
  void on_closed() override;
  void on_flush_started() override;
  void on_flush_done() override;
  void tick(std::int64_t now_ms) override;
  void close_with_error(std::string_view reason, std::string_view detail = {}) override;
  bool closing() const override { return closing_; }
  // A login is being checked, its refusal is being delayed, or the
  // persistent session is being looked up before CONNACK.
  // Or a resumed session waits for the older connection to let its client
  // id go (awaiting_claim_).
  bool holding() const override {
    return authenticating_ || refuse_at_ms_ != 0 || opening_session_ || awaiting_claim_ || arming_;
  }
  bool connected() const override { return connected_; }
  std::uint64_t messages_in() const override { return messages_in_; }
  std::uint64_t messages_out() const override { return messages_out_; }
  void describe(net::ConnectionInfo& info) const override;

  // broker::Client
  void on_delivery(SubscriptionNo sub, broker::Delivery d) override;
  void on_complete(std::uint64_t op, broker::Outcome outcome) override;
  void on_kick(SubscriptionNo sub, std::string reason) override;

 private:
  bool v5() const { return level_ == mqtt::Level::k5; }
  void on_packet(mqtt::ClientPacket& p);
  void on_decode_error(const mqtt::Decoder::Result& r);

  void handle_connect(const mqtt::Connect& c);
  void on_login(const auth::LoginResult& r);
  void finish_connect();
  void send_connack();

  // Persistent sessions (docs/mqtt.md, "Persistent sessions"): a session
  // kept after its connection is the queue `mqtt-subscription-CLIENTIDqos1`
  // of the vhost (RabbitMQ's name), declared (remembered across restarts,
  // x-expires = the session expiry), and its subscriptions are bindings of
  // amq.topic to that queue (declared-exchanges.json), whose arguments keep
  // the filter, its granted QoS and no-local. Messages published while the
  // client is away wait in the queue (journaled when persistent, as QoS 1
  // and 2 messages are); the connection consumes it with client-individual
  // acks, so that a PUBLISH not PUBACKed goes back to the queue when the
  // connection ends and comes again (DUP) on the next one. Nothing beyond
  // the broker's queues, bindings and journal holds a session.
  static constexpr SubscriptionNo kSessionQueueSub{0x80000000u};
  static constexpr std::uint32_t kNeverExpires = 0xFFFFFFFFu;
  // After the login: looks the session queue up on its owner, then
  // on_session_found.
  void open_session();
  void on_session_found(std::optional<broker::QueueStats> found);
  // The session queue's consumer is in place: subscriptions from the
  // bindings, CONNACK, then what waited.
  void on_session_attached();
  void on_session_refused(const broker::Outcome& outcome);
  // The session queue and its bindings go (clean start, session expiry 0).
  void delete_session();
  broker::ConsumerKey session_key() const { return {shard_, id_, kSessionQueueSub}; }
  // A message from the session queue: sent at the highest QoS granted to a
  // filter of the session that matches its topic; acknowledged at once if
  // none does (unsubscribed meanwhile) or it is not sent.
  void deliver_queued(broker::Delivery d);
  // Refuses the CONNECT (CONNACK with `code`), after login-failure-delay
  // when `delay`.
  void refuse_connect(mqtt::ReasonCode code, std::string_view why, bool delay);

  void handle_publish(const mqtt::Publish& p);
  void handle_pub_response(const mqtt::PubResponse& p);
  void handle_subscribe(const mqtt::Subscribe& s);
  void handle_unsubscribe(const mqtt::Unsubscribe& u);
  void handle_disconnect(const mqtt::Disconnect& d);
  // MQTT 5: a Session Expiry Interval other than 0 at DISCONNECT becomes
  // the session's (its queue's x-expires).
  void change_session_expiry(std::uint32_t expiry_s);

  // Ends the conversation for a reason the client caused (or the server
  // decided): MQTT 5 says so with DISCONNECT (or CONNACK before the
  // connection is accepted); 3.1.1 closes, except for a refused protocol
  // level, answered with CONNACK return code 1. The will is published.
  void fail(mqtt::ReasonCode code, std::string_view why);

  // Publishes an MQTT message to the broker. `answer`: the ordered answer
  // whose slot 0 gets the outcome (nullopt: nobody waits for it).
  // What MQTT 5 PUBLISH (or will) properties become on the message: STOMP
  // headers (user properties as they are; content-type; reply-to for the
  // response topic; correlation-id for correlation data that is text) and
  // an expiry. Owned, so that a will can keep them.
  struct Extras {
    std::vector<std::pair<std::string, std::string>> headers;
    std::optional<std::uint32_t> expiry_s;  // Message Expiry Interval
  };
  static Extras extras_of(const mqtt::Properties& p);
  broker::MessageRef build_message(std::string_view topic, std::string_view payload, std::uint8_t qos,
                                   const Extras& extras, bool retain = false);
  void publish_will();
  // A will's delay: the smaller of its Will Delay Interval and the
  // session's expiry (a session that ends with the connection: 0).
  std::uint32_t will_delay_s(std::uint32_t delay_s) const;
  // Before CONNACK: the will is kept on disk while the connection lives
  // (MqttWills::arm), so that a restart publishes it; finish_connect()
  // again once it is there. False: nothing to wait for.
  bool arm_will();

  // Answers (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK) go out in the order
  // of the packets they answer (spec 4.6), each once the broker operations
  // it waits for are done.
  struct Answer {
    mqtt::PacketType type = mqtt::PacketType::kPuback;
    std::uint16_t packet_id = 0;
    std::vector<mqtt::ReasonCode> reasons;
    std::uint32_t waiting = 0;  // broker operations not answered yet
    // SUBACK: (slot, filter, granted QoS) whose retained messages follow it.
    std::vector<std::tuple<std::uint32_t, std::string, std::uint8_t>> retained;
    // PUBREC, PUBCOMP of a persistent session: before it goes out, the
    // session's QoS 2 flows are saved (MqttQos2Ids), so that they hold
    // across a restart.
    bool saves_flows = false;
  };
  std::uint64_t add_answer(Answer a);  // its sequence number
  // A broker operation whose outcome goes into reasons[slot] of answer `seq`.
  std::uint64_t begin_op(std::uint64_t seq, std::uint32_t slot);
  // The operation gets `n` outcomes rather than one (n may be 0).
  void expect_outcomes(std::uint64_t op, std::uint32_t n);
  void write_answers();

  broker::OpTicket ticket(std::uint64_t op) const { return {shard_, id_, op}; }

  struct Sub {
    SubscriptionNo no;
    std::string filter;  // as the client sent it
    broker::Destination destination;
    ShardId owner;
    std::uint8_t qos = 0;  // granted
    bool no_local = false;
    bool retain_as_published = false;  // MQTT 5
    std::uint32_t subscription_id = 0;  // MQTT 5 Subscription Identifier (0: none)
    // A binding of the persistent session's queue (no consumer of its own).
    bool bound = false;
    // A shared subscription ($share/GROUP/filter): a consumer, with
    // client-individual acks, of the group's queue (`destination`), which
    // amq.topic feeds (docs/mqtt.md, "Shared subscriptions").
    bool shared = false;
  };
  // The binding of amq.topic to the session queue that is `s`.
  broker::ExchangeChange binding_of(const Sub& s, bool bind) const;
  // Binds or unbinds; the outcome goes to `op` (0: nobody waits).
  void change_binding(const Sub& s, bool bind, std::uint64_t op);
  broker::ConsumerKey key_of(const Sub& s) const { return {shard_, id_, s.no}; }
  void unsubscribe_all();
  // A shared subscription's member joins its group: consumes the group's
  // queue (declared by the first member) and binds it to amq.topic with
  // `key` (the filter's pattern; idempotent). The outcomes go to `op` (two)
  // and `bind_op` (0: nobody waits).
  void join_group(const Sub& member, const std::string& key, std::uint64_t op, std::uint64_t bind_op);
  // A resumed session's shared subscription (kept as a binding, binding_of).
  void rejoin_group(const broker::BindingInfo& b);
  // A consumer's window (the session queue, a shared group's queue, a topic
  // subscription): default-prefetch, at most max-unacked and the client's
  // Receive Maximum; bytes: what the connection may queue for writing.
  broker::Window subscriber_window() const;

  // Session takeover (spec 3.1.4-3): one connection per client id and vhost.
  // A CONNECT with a client id another connection holds tells that one to go
  // (DISCONNECT 0x8E, through broker::ClientEvents::kick with subscription
  // 0, which only MQTT sessions get) and connects at once; it claims the id
  // once the other has let go (tick() tries again).
  void claim_client_id();
  void release_client_id();
  // After the claim, for a resumed session: PUBREL again for the outbound
  // QoS 2 flows its last connection left waiting for PUBCOMP.
  void resend_pubrels(const MqttQos2Ids::Ids& released);

  broker::Broker& broker_;
  Clients& clients_;
  auth::Authenticator* authenticator_;
  MqttRetained* retained_;
  MqttWills* wills_;
  MqttQos2Ids* qos2_ids_;
  net::Transport& transport_;
  const std::size_t max_packet_size_;
  const std::uint32_t max_subscriptions_;
  ShardId shard_;
  ConnectionId id_;
  std::uint64_t log_id_;  // the connection's id as the net layer logs it (without kIdBit)
  mqtt::Decoder decoder_;
  mqtt::Level level_ = mqtt::Level::k3_1_1;
  Login login_;

  // CONNECT.
  std::uint16_t keep_alive_s_ = 0;
  std::string client_id_;
  bool client_id_assigned_ = false;
  bool client_id_held_ = false;
  ConnectionId told_to_go_{0};  // the holder asked to let the client id go
  bool awaiting_claim_ = false;  // resumed session: reading waits for the client id (claim_client_id)
  bool session_expiry_asked_ = false;  // MQTT 5: a session expiry > 0 at CONNECT
  bool clean_start_ = true;
  // The session outlives the connection (3.1.1 clean session 0; MQTT 5
  // Session Expiry Interval > 0), for session_expiry_s_ (kNeverExpires).
  bool persistent_ = false;
  std::uint32_t session_expiry_s_ = 0;
  // Subscriptions are bindings of the session queue (a persistent session,
  // or one resumed that ends with this connection).
  bool queued_ = false;
  bool session_present_ = false;
  bool opening_session_ = false;
  // The session queue's expiry differs from the one asked for (an existing
  // session keeps its own): CONNACK says which applies.
  std::optional<std::uint32_t> expiry_in_use_;
  broker::Destination session_queue_;
  ShardId session_owner_{0};
  std::uint64_t attach_op_ = 0;        // the session queue's SUBSCRIBE
  std::uint32_t attach_answers_ = 0;   // its answers still to come
  std::uint16_t client_receive_maximum_ = 65535;
  // MQTT 5 Maximum Packet Size of the client: larger PUBLISHes are not sent
  // to it (spec 3.1.2.11.4).
  std::size_t client_max_packet_size_ = SIZE_MAX;
  struct WillMessage {
    std::string topic;
    std::string payload;
    std::uint8_t qos = 0;
    bool retain = false;
    Extras extras;
    std::uint32_t delay_s = 0;  // MQTT 5 Will Delay Interval
  };
  std::optional<WillMessage> will_;
  bool will_armed_ = false;  // kept on disk (MqttWills::arm) until the connection ends
  bool arming_ = false;      // ... being written; CONNACK waits
  // The will as it would be published now; none if it may not be (a
  // topic the user may not write to, or a Ferry wildcard).
  std::optional<MqttWills::Will> make_will(const WillMessage& w);
  // MQTT 5 topic aliases the client set (index alias - 1); CONNACK's Topic
  // Alias Maximum bounds them, as mosquitto's default does.
  static constexpr std::uint16_t kTopicAliasMaximum = 10;
  // Made on first use: an idle connection does not pay for it.
  std::unique_ptr<std::array<std::string, kTopicAliasMaximum>> topic_aliases_;
  // Topic aliases this server gives the client (MQTT 5): at most its Topic
  // Alias Maximum, and at most kServerTopicAliases, so that a client
  // asking for 65535 does not make a connection hold 65535 topic names.
  static constexpr std::uint16_t kServerTopicAliases = 32;
  std::uint16_t client_topic_alias_maximum_ = 0;
  std::unordered_map<std::string, std::uint16_t> topic_alias_of_;
  std::int64_t last_input_ms_ = 0;
  std::int64_t refuse_at_ms_ = 0;
  mqtt::ReasonCode refusal_ = mqtt::ReasonCode::kSuccess;

  // Ordered answers: answers_.front() has sequence number answers_base_.
  std::deque<Answer> answers_;
  std::uint64_t answers_base_ = 0;
  struct PendingOp {
    std::uint64_t seq;
    std::uint32_t slot;
    std::uint32_t outcomes = 1;  // still to come (a publish gets one per topic it reaches)
    SubscriptionNo sub{0};       // a SUBSCRIBE's: dropped if the broker refuses it
    // A SUBSCRIBE declaring its queue: two outcomes if it succeeds, one if
    // it fails.
    bool declares = false;
  };
  std::unordered_map<std::uint64_t, PendingOp> ops_;
  std::uint64_t next_op_ = 0;
  // Packet ids of QoS 2 PUBLISHes received and PUBREC'd, until PUBREL;
  // a persistent session's outlive the connection (MqttQos2Ids).
  std::unordered_set<std::uint16_t> qos2_received_;
  // Those of qos2_received_ whose PUBREC has not gone out (the message is
  // not published yet): not saved, not parked.
  std::unordered_set<std::uint16_t> qos2_pending_;
  // The session's QoS 2 flows are kept across restarts (MqttQos2Ids).
  bool saves_qos2() const { return qos2_ids_ != nullptr && persistent_ && client_id_held_; }
  MqttQos2Ids::Flows qos2_flows() const;
  // Saves them; `op` (0: nobody waits) completes once they are on disk.
  void save_qos2(std::uint64_t op);
  // A callback of a store's thread that completes `op` on this shard.
  std::function<void(const Status&)> on_written(std::uint64_t op);

  std::map<std::string, Sub, std::less<>> subs_;               // by filter
  std::unordered_map<std::uint32_t, std::string> filter_of_;  // SubscriptionNo -> filter
  std::uint32_t next_sub_no_ = 0;
  // QoS 1 PUBLISHes written and not yet PUBACKed: the subscription's window
  // credit comes back with the PUBACK.
  struct Inflight {
    SubscriptionNo sub;
    std::uint64_t bytes = 0;
    DeliverySeq seq{};  // from the session queue (sub kSessionQueueSub): settled by PUBACK
    std::uint8_t qos = 1;
    // QoS 2: PUBREC came and PUBREL went; the message is the client's, the
    // packet id waits for PUBCOMP.
    bool released = false;
  };
  // A QoS 1 PUBACK or QoS 2 PUBREC: the delivery is done with (credit, or
  // an ack in the session queue).
  void release(const Inflight& f);
  // Packet ids came free: deliveries that waited for Receive Maximum go.
  void send_waiting();
  std::unordered_map<std::uint16_t, Inflight> inflight_;
  std::uint16_t next_packet_id_ = 0;
  // QoS 1 deliveries past the client's Receive Maximum wait here (bounded
  // by the subscriptions' windows) until PUBACKs make room.
  struct Waiting {
    SubscriptionNo sub;
    broker::Delivery delivery;
    std::uint8_t qos = 0;           // kRetainedSub's: at most this QoS
    std::string filter;             // kRetainedSub's: the filter it matched
  };
  std::deque<Waiting> waiting_;
  // `qos`: the granted QoS the delivery goes out with (at most); `retained`:
  // a retained message sent for a new subscription (retain flag set).
  void write_publish(const Sub& s, std::uint8_t qos, broker::Delivery d, bool retained = false);
  // After a SUBACK: the retained messages matching `filter`, at most at
  // `qos`, retain flag set (docs/mqtt.md, "Retained messages").
  void send_retained(const std::string& filter, std::uint8_t qos);
  static constexpr SubscriptionNo kRetainedSub{0x80000001u};
  // A shared subscription group's queue goes once it has had no member for
  // this long (docs/mqtt.md, "Shared subscriptions").
  static constexpr std::uint64_t kSharedQueueExpiryMs = 10000;
  // Gives a delivery back as handled: credit for a topic subscription's,
  // an ack for the session queue's.
  void settle_unsent(SubscriptionNo sub, const broker::Delivery& d);
  // QoS 0 PUBLISHes written: credit once they reach the socket.
  struct Credit {
    std::uint32_t messages = 0;
    std::uint64_t bytes = 0;
  };
  std::unordered_map<std::uint32_t, Credit> written_, flushing_;

  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  bool authenticating_ = false;
  bool connected_ = false;
  bool closing_ = false;
  bool yielded_ = false;  // the last on_bytes stopped at kUnitsPerTurn (fairness)
  bool released_ = false;
  std::int64_t connected_at_ms_ = 0;
  std::uint64_t messages_in_ = 0;
  std::uint64_t messages_out_ = 0;
};

}  // namespace ferry::session
