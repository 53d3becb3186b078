#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "auth/authenticator.h"
#include "broker/broker.h"
#include "broker/client_events.h"
#include "broker/delivery.h"
#include "broker/destination.h"
#include "broker/schedule.h"
#include "broker/stats.h"
#include "net/protocol.h"
#include "net/transport.h"
#include "session/clients.h"
#include "session/login.h"
#include "session/receipts.h"
#include "session/stomp_destinations.h"
#include "session/stomp_options.h"
#include "session/subscriptions.h"
#include "session/temp_queues.h"
#include "session/transactions.h"
#include "stomp/frame.h"
#include "stomp/parse_error.h"
#include "stomp/parser.h"
#include "stomp/version.h"

namespace ferry::session {

// What every STOMP session of a server shares; outlives them.
struct StompContext {
  const StompOptions& options;
  broker::Broker& broker;
  Clients& clients;
  // null: no authentication (every client is let in, in vhost "/"; tests).
  auth::Authenticator* authenticator = nullptr;
};

// The listeners' factory of STOMP sessions.
net::ProtocolFactory stomp_protocol(const StompContext& context);

// One client's STOMP conversation: parses the connection's bytes into
// frames and turns them into broker operations, and broker deliveries and
// answers into frames. Its parts own their state: Login (who the client
// is), Receipts (answers in frame order, the producer window),
// Subscriptions (ack tracking, auto-ack credit), Transactions and
// StompDestinations (the destination forms); this class is the state
// machine between them. The queues keep the authoritative delivery state on
// their own shards.
//
// Owned by its connection; every method runs on the connection's shard.
class StompSession final : public net::Protocol, public broker::Client, private Receipts::Listener {
 public:
  StompSession(const StompContext& context, net::Transport& transport, ShardId shard, ConnectionId id);
  ~StompSession() override;

  // net::Protocol
  std::size_t on_bytes(std::span<char> data) override;
  bool yielded() const override { return yielded_; }
  void on_end_of_input() override;
  void on_closed() override;
  void on_flush_started() override;
  void on_flush_done() override;
  void tick(std::int64_t now_ms) override;
  void close_with_error(std::string_view reason, std::string_view detail = {}) override { fail(reason, detail); }
  bool closing() const override { return closing_; }
  // A login is being checked, or its refusal is being delayed: frames after
  // CONNECT wait in the transport (reading is paused) until it is decided.
  bool holding() const override {
    return authenticating_ || login_.refusing() || login_.waiting_for_client_id();
  }
  bool connected() const override { return connected_; }
  std::string close_reason() const override { return close_reason_; }
  std::uint64_t messages_in() const override { return messages_in_; }    // SENDs accepted
  std::uint64_t messages_out() const override { return messages_out_; }  // MESSAGEs written
  void describe(net::ConnectionInfo& info) const override;

  // broker::Client
  void on_delivery(SubscriptionNo sub, broker::Delivery d) override;
  void on_complete(std::uint64_t op, broker::Outcome outcome) override;
  void on_kick(SubscriptionNo sub, std::string reason) override;

  void on_frame(const stomp::Frame& f);
  // `receipt`: the bad frame's receipt header, if it could be salvaged.
  void on_parse_error(stomp::ParseError e, std::optional<std::string_view> receipt);

 private:
  // Receipts::Listener
  void on_answer(std::string_view receipt, SubscriptionNo subscribed, bool disconnect) override;
  void on_window(bool pause) override;

  // Sends ERROR (message + optional detail body) and closes after flushing.
  void fail(std::string_view message, std::string_view detail = {},
            std::optional<std::string_view> receipt = std::nullopt);
  void fail(const Error& e, std::optional<std::string_view> receipt) { fail(e.message, e.detail, receipt); }

  // CONNECT (stomp_connect.cc).
  struct ConnectReply {  // what CONNECTED needs once the login is decided
    std::uint32_t send_ms = 0, recv_ms = 0;
    std::optional<std::string> receipt;
  };
  void handle_connect(const stomp::Frame& f);
  void on_login(const auth::LoginResult& r, ConnectReply reply);
  void finish_connect(const ConnectReply& reply);
  void refuse_later(std::string_view message, std::string detail, std::optional<std::string> receipt);

  void handle_send(const stomp::Frame& f);
  // A SEND's message settings, read before any destination is touched.
  struct SendSettings {
    std::uint8_t priority = 4;
    std::int64_t expires = 0;          // ms since the epoch; 0: never
    std::optional<bool> persistent;    // nullopt: persistent-default decides
  };
  static Result<SendSettings> send_settings_of(const stomp::Frame& f);
  // Onto a message built for its destination (m.destination); `routed`: the
  // queues an exchange routed it to (persistent-default matches them too).
  void apply_settings(const SendSettings& settings, broker::Message& m,
                      const std::vector<std::string_view>& routed) const;
  // ActiveMQ's composite destination (`/queue/a,/queue/b,/topic/c`,
  // composite_destination.h): one copy to each element, one RECEIPT.
  void send_composite(const stomp::Frame& f, std::string_view text, std::optional<std::string_view> receipt);
  void handle_subscribe(const stomp::Frame& f);
  void handle_unsubscribe(const stomp::Frame& f);
  // SUBSCRIBE browser:true (ActiveMQ, Apollo): a snapshot of the queue's
  // waiting messages as MESSAGE frames, nothing consumed or acknowledged,
  // then a MESSAGE with `browser:end` and an empty body.
  void browse(const broker::Destination& d, std::string id, std::optional<std::string_view> receipt);
  void on_browsed(const broker::Destination& d, const std::string& id, std::uint64_t op,
                  std::optional<std::vector<broker::BrowsedMessage>> messages);
  void handle_ack(const stomp::Frame& f, bool ack);
  void handle_begin(const stomp::Frame& f);
  void handle_commit(const stomp::Frame& f);
  void handle_abort(const stomp::Frame& f);
  void handle_disconnect(const stomp::Frame& f);
  void remove_inactive_durable(const stomp::Frame& f, std::optional<std::string_view> receipt);

  // A frame's destination: the destination forms StompDestinations reads,
  // and this connection's temporary queues (`/temp-queue/NAME`) and the
  // reply queues of others (`/reply-queue/...`, `/remote-temp-queue/...`).
  struct Target {
    std::shared_ptr<const broker::Destination> destination;
    TempQueues::Entry* own_temp = nullptr;  // one of this connection's temporary queues
    bool reply = false;                     // another connection's temporary queue: send only
    bool must_exist = false;                // RabbitMQ's /amq/queue/NAME: never created
  };
  // `element`: one element of a composite destination, instead of the
  // frame's `destination`.
  Result<Target> target_of(const stomp::Frame& f, std::optional<std::string_view> element = std::nullopt);
  // RabbitMQ's /exchange/NAME[/KEY] (except amq.topic with a key, which
  // StompDestinations reads as /topic/KEY); nullopt for other destinations.
  struct ExchangeAddress {
    std::string exchange;  // may be empty: refused by the caller
    std::string key;       // routing key (SEND) or binding pattern (SUBSCRIBE)
    std::string text;      // the destination as the frame has it
  };
  static std::optional<ExchangeAddress> exchange_address(const stomp::Frame& f);
  // The ERROR for a failed exchange operation, in RabbitMQ's words.
  void fail_exchange(const Error& e, std::optional<std::string_view> receipt);
  // A /exchange/ subscription's temporary queue goes, with its bindings.
  void drop_exchange_queue(const Subscription& s);
  // SEND reply-to:/temp-queue/NAME (or /temp-topic/NAME): rewritten to the
  // queue's (topic's) reply address, subscribed to first (as RabbitMQ)
  // unless this connection already is.
  Status rewrite_reply_to(broker::Message& m);
  void subscribe_temp(TempQueues::Entry& e, broker::DestinationKind kind, std::string id);
  // False (and ERROR sent) if the user may not do `a` on `d`.
  bool permitted(auth::Access a, const broker::Destination& d, std::optional<std::string_view> receipt);
  bool permitted(auth::Access a, std::string_view resource, std::optional<std::string_view> receipt);
  Result<broker::Window> window_of(const stomp::Frame& f) const;
  // The boolean header `name` (nullopt: absent), any letter case
  // (stomp/boolean.h); anything else is an Error naming the header.
  static Result<std::optional<bool>> boolean_header(const stomp::Frame& f, std::string_view name);
  // The durable subscription a SUBSCRIBE asks for (nullopt: none).
  Result<std::optional<broker::DurableSubscription>> durable_of(const stomp::Frame& f,
                                                               const broker::Destination& d,
                                                               std::string_view id) const;
  // RabbitMQ's queue arguments among the frame's headers (x-max-length,
  // ...: a declaration of a /queue/ or /amq/queue/ destination); null when
  // it carries none. A bad value is an Error naming the argument.
  static Result<std::shared_ptr<const broker::QueueArguments>> queue_arguments_of(const stomp::Frame& f);
  // A stream reader's start: `x-stream-offset` (RabbitMQ's values), into
  // options.stream_offset, and its consumer group (`group`, `group.id`)
  // into options.stream_group; an Error naming the header when it is bad.
  static Status stream_offset_of(const stomp::Frame& f, const broker::Destination& d,
                                 broker::ConsumerOptions& options);
  broker::MessageRef build_message(const stomp::Frame& f, const broker::Destination& d);
  static void encode_common_headers(broker::Message& m);
  // Scheduled delivery: the schedule a SEND asks for (checked against
  // max-scheduled-messages), and a committing transaction's due times.
  Result<std::optional<broker::Schedule>> scheduling_of(const stomp::Frame& f, broker::DestinationKind kind);
  void schedule_at_commit(Transaction& tx);

  std::uint64_t begin_op(std::optional<std::string_view> receipt, std::uint32_t remaining,
                         std::uint64_t bytes = 0, bool disconnect = false,
                         SubscriptionNo subscribed = SubscriptionNo(0)) {
    return receipts_.begin(receipt, remaining, bytes, disconnect, subscribed);
  }
  broker::OpTicket ticket(std::uint64_t op) const { return {shard_, id_, op}; }
  broker::ConsumerKey key_of(const Subscription& s) const { return {shard_, id_, s.no}; }
  void write_message(Subscription& s, broker::Delivery d);
  void release_early(SubscriptionNo no);
  void write_receipt(std::string_view receipt);
  void settle(Subscription& s, broker::DeliverySeqs seqs, broker::SettleAction action, std::uint64_t op);
  void apply_settles(std::vector<TxSettle>& settles, std::uint64_t op);
  void release_all();

  const StompOptions& options_;
  broker::Broker& broker_;
  Clients& clients_;
  auth::Authenticator* authenticator_;
  net::Transport& transport_;
  ShardId shard_;
  ConnectionId id_;
  stomp::Parser parser_;
  stomp::Version version_ = stomp::Version::k1_0;
  std::string host_header_;  // CONNECT `host`, as sent

  Login login_;
  Receipts receipts_;
  Subscriptions subs_;
  Transactions transactions_;
  StompDestinations destinations_;
  TempQueues temp_queues_;
  TempQueues temp_topics_;  // `/temp-topic/NAME` (ActiveMQ's); Entry::queue names the topic
  // Operations on /amq/queue/NAME still waiting: their "not created" answer
  // means the queue does not exist (not a missing permission).
  std::unordered_set<std::uint64_t> must_exist_ops_;

  bool authenticating_ = false;
  std::optional<ConnectReply> client_id_reply_;  // a CONNECT waiting for its client-id
  // Expires with the session: a login answer posted back from the
  // authenticator's thread, or a browse snapshot, finds out whether the
  // session is still there.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  bool connected_ = false;
  bool closing_ = false;
  bool yielded_ = false;  // the last on_bytes stopped at kUnitsPerTurn (fairness)
  bool released_ = false;
  bool disconnecting_ = false;
  std::string close_reason_;  // see close_reason()

  std::int64_t connected_at_ms_ = 0;
  std::uint64_t messages_in_ = 0;
  std::uint64_t messages_out_ = 0;
};

}  // namespace ferry::session
