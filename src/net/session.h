#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "auth/authenticator.h"
#include "broker/broker.h"
#include "broker/delivery.h"
#include "broker/destination.h"
#include "broker/stats.h"
#include "common/recycling_allocator.h"
#include "common/string_hash.h"
#include "net/recent_ids.h"
#include "net/server_options.h"
#include "net/transport.h"
#include "stomp/frame.h"
#include "stomp/parse_error.h"
#include "stomp/version.h"

namespace ferry::net {

// One client's STOMP conversation: the protocol state machine between the
// parsed frames of a Transport and the Broker. It keeps what only the
// connection knows (subscription ids, what each subscription holds
// unacknowledged, open transactions, pending receipts); the queues keep the
// authoritative delivery state on their own shards.
//
// Owned by its connection; every method runs on the connection's shard.
class Session {
 public:
  Session(const ServerOptions& options, broker::Broker& broker, Transport& transport,
          ShardId shard, ConnectionId id);
  ~Session();

  void on_frame(const stomp::Frame& f);
  // `receipt`: the bad frame's receipt header, if it could be salvaged.
  void on_parse_error(stomp::ParseError e, std::optional<std::string_view> receipt);
  // The client half-closed (end of input): like a DISCONNECT without
  // receipt, the connection closes once every earlier frame's answer
  // (RECEIPT, ERROR) is written.
  void on_end_of_input();
  // The transport is gone (closed, reset, heart-beat timeout): give back
  // everything held. Idempotent.
  void on_closed();
  // Output queued so far has been handed to the socket / has been written.
  void on_flush_started();
  void on_flush_done();

  // From the broker (ClientEvents), on this shard.
  void on_delivery(SubscriptionNo sub, broker::Delivery d);
  void on_complete(std::uint64_t op, broker::Outcome outcome);
  void on_kick(SubscriptionNo sub, std::string reason);

  // Sends ERROR (message + optional detail body) and closes after flushing.
  void fail(std::string_view message, std::string_view detail = {},
            std::optional<std::string_view> receipt = std::nullopt);

  bool closing() const { return closing_; }
  bool connected() const { return connected_; }
  // A login is being checked, or its refusal is being delayed: frames after
  // CONNECT wait in the transport (reading is paused) until it is decided.
  bool holding() const { return authenticating_ || refuse_at_ms_ != 0 || client_id_wait_until_ms_ != 0; }
  // Housekeeping every ~100 ms (mono_ms): sends a delayed login refusal,
  // retries a CONNECT waiting for its client-id.
  void tick(std::int64_t now_ms);

  // Who this connection is (for the management API): the user it logged in
  // as ("" before CONNECT, or when the broker runs without an
  // authenticator) and its vhost.
  const std::string& user() const { return user_; }
  const std::string& vhost() const { return vhost_; }

  // Management (docs/management.md).
  stomp::Version version() const { return version_; }
  std::int64_t connected_at_ms() const { return connected_at_ms_; }
  std::uint64_t messages_in() const { return messages_in_; }    // SENDs accepted
  std::uint64_t messages_out() const { return messages_out_; }  // MESSAGEs written
  std::size_t subscription_count() const { return subs_by_id_.size(); }
  std::size_t unacked_count() const;
  struct SubscriptionInfo {
    std::string id;
    std::string destination;  // "/queue/x"
    std::string ack;          // auto, client, client-individual
    std::uint32_t prefetch = 0;
    std::size_t unacked = 0;
    bool durable = false;
    std::string name;         // the durable subscription's name
  };
  std::vector<SubscriptionInfo> subscriptions() const;

 private:
  struct Held {               // a delivery awaiting ACK/NACK (client modes)
    DeliverySeq seq;
    std::uint64_t written = 0;  // its MESSAGE was the subscription's n-th written
    broker::MessageRef message;
  };
  struct Subscription {
    SubscriptionNo no;
    std::string id;
    broker::Destination destination;
    ShardId owner;
    broker::AckMode mode = broker::AckMode::kAuto;
    bool durable = false;
    std::string durable_name;
    std::uint32_t prefetch = 0;  // the window's message count
    std::deque<Held, RecyclingAllocator<Held>> held;  // sorted by seq (not always the order written)
    std::uint64_t written = 0;  // MESSAGE frames written (client modes)
    DeliverySeq acked_through{0};  // client mode: highest seq a cumulative ACK named
    // client mode: message-ids that a cumulative ACK took along with the one
    // it named (the last 1,024: enough for the frames in flight to a client,
    // about 40 KB at most), so a 1.0/1.1 client acking one of them by
    // message-id afterwards is not an error.
    RecentIds covered_ids{1024};
    std::uint32_t credit_messages = 0;  // auto mode: written, not yet returned
    std::uint64_t credit_bytes = 0;
    bool awaiting_receipt = false;      // SUBSCRIBE's RECEIPT not written yet
    std::vector<broker::Delivery> early;  // deliveries that arrived before it
    std::uint32_t queued_messages = 0;  // auto mode: encoded, not yet written
    std::uint64_t queued_bytes = 0;
  };
  struct TxSettle {
    SubscriptionNo sub;
    broker::DeliverySeqs seqs;
    broker::SettleAction action;  // at COMMIT
  };
  struct TxSend {
    broker::Destination destination;
    broker::MessageRef message;
  };
  struct Transaction {
    std::vector<TxSend> sends;
    std::vector<TxSettle> settles;
    std::size_t frames = 0;
  };
  struct PendingOp {
    std::uint64_t op = 0;
    std::uint32_t remaining = 0;   // broker answers still expected
    std::string receipt;           // empty: none asked for
    std::uint64_t bytes = 0;       // producer window charge
    bool disconnect = false;       // DISCONNECT: close once drained
    SubscriptionNo subscribed{0};  // SUBSCRIBE: deliveries wait for the RECEIPT
  };

  void handle_connect(const stomp::Frame& f);
  struct ConnectReply {  // what CONNECTED needs once the login is decided
    std::uint32_t send_ms = 0, recv_ms = 0;
    std::optional<std::string> receipt;
  };
  void on_login(const auth::LoginResult& r, ConnectReply reply);
  void finish_connect(const ConnectReply& reply);
  // The CONNECT's client-id, one connection at a time per vhost (ActiveMQ's
  // rule; docs/security.md). True: held (or none given). False: CONNECT
  // waits (reading paused; tick() retries) up to kClientIdWaitMs for a
  // connection that is closing to let go, or an ERROR was sent.
  static constexpr std::int64_t kClientIdWaitMs = 1000;
  bool claim_client_id(const ConnectReply& reply);
  void release_client_id();
  // Sends the ERROR for a refused login after login-failure-delay.
  void refuse_later(std::string_view message, std::string detail, std::optional<std::string> receipt);
  // False (and ERROR sent) if the user may not do `a` on `d`.
  bool permitted(auth::Access a, const broker::Destination& d, std::optional<std::string_view> receipt);
  bool may(auth::Access a, const broker::Destination& d) const;
  void handle_send(const stomp::Frame& f);
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

  // The frame's destination, parsed (null, and ERROR sent, if it has none
  // or it is not one). Shared: a SEND hands it to the queue's shard as is.
  std::shared_ptr<const broker::Destination> destination_of(const stomp::Frame& f);
  // `text` parsed: /queue/NAME, /topic/NAME, /amq/queue/NAME, or a bare NAME
  // (ActiveMQ, Artemis), which is a queue or a topic by the frame's
  // `destination-type` (ANYCAST, MULTICAST) or else default-destination-type.
  std::optional<broker::Destination> parse_destination(const stomp::Frame& f, std::string_view text) const;
  std::optional<broker::Window> window_of(const stomp::Frame& f);
  // The boolean header `name` (nullopt: absent), any letter case
  // (stomp/boolean.h). Any other value fails the connection with an ERROR
  // naming the header, and sets `failed`.
  std::optional<bool> boolean_header(const stomp::Frame& f, std::string_view name, bool& failed);
  // The durable subscription a SUBSCRIBE asks for (nullopt: none, or `error`).
  std::optional<broker::DurableSubscription> durable_of(const stomp::Frame& f,
                                                        const broker::Destination& d,
                                                        std::string_view id, std::string& error);
  void remove_inactive_durable(const stomp::Frame& f, std::optional<std::string_view> receipt);
  broker::MessageRef build_message(const stomp::Frame& f, const broker::Destination& d);
  // Finds the subscription and position of the delivery an ACK/NACK names.
  struct AckTarget {
    Subscription* sub = nullptr;
    std::size_t index = 0;  // into sub->held
  };
  std::optional<AckTarget> resolve_ack(const stomp::Frame& f);
  struct TaggedDelivery {
    Subscription* sub = nullptr;
    std::uint64_t seq = 0;
  };
  std::optional<TaggedDelivery> tagged(const stomp::Frame& f, std::string_view header) const;
  // An ACK naming a client-mode delivery that an earlier cumulative ACK
  // already took (by ack tag: a sequence up to the highest one named; by
  // message-id: one of covered_ids, forgotten once matched).
  bool covered_by_cumulative_ack(const stomp::Frame& f);
  void take_cumulative(Subscription& s, std::size_t index, bool ack, broker::DeliverySeqs& seqs);
  Transaction* transaction_of(const stomp::Frame& f, bool& failed);
  // COMMIT/ABORT: removes and returns the named transaction (nullopt: ERROR sent).
  std::optional<Transaction> take_transaction(const stomp::Frame& f);

  // Starts an operation that completes after `remaining` broker answers
  // (0: completes now, once all earlier ones have).
  std::uint64_t begin_op(std::optional<std::string_view> receipt, std::uint32_t remaining,
                         std::uint64_t bytes = 0, bool disconnect = false,
                         SubscriptionNo subscribed = SubscriptionNo(0));
  static void encode_common_headers(broker::Message& m);
  void write_message(Subscription& s, broker::Delivery d);
  void release_early(SubscriptionNo no);
  broker::OpTicket ticket(std::uint64_t op) const { return {shard_, id_, op}; }
  broker::ConsumerKey key_of(const Subscription& s) const { return {shard_, id_, s.no}; }
  void drain_ops();
  void write_receipt(std::string_view receipt);
  void settle(Subscription& s, broker::DeliverySeqs seqs, broker::SettleAction action,
              std::uint64_t op);
  void abort_transaction(Transaction& tx);
  void release_all();

  const ServerOptions& options_;
  broker::Broker& broker_;
  Transport& transport_;
  ShardId shard_;
  ConnectionId id_;
  stomp::Version version_ = stomp::Version::k1_0;
  std::string vhost_ = "/";
  std::string host_header_;  // CONNECT `host`, as sent
  std::string client_id_;  // CONNECT client-id (ActiveMQ/Artemis durable subscriptions)
  bool client_id_held_ = false;  // claimed in broker_.client_ids()
  std::int64_t client_id_wait_until_ms_ = 0;  // != 0: CONNECT waits for its client-id
  std::optional<ConnectReply> client_id_reply_;  // that CONNECT's reply
  std::string user_;
  std::shared_ptr<const auth::Permissions> permissions_;  // from the login's users snapshot
  // The last destinations named, parsed once: a producer names the same few
  // in every SEND (a name past 15 characters would cost an allocation per
  // copy otherwise).
  struct ParsedDestination {
    std::string text;  // as the frame has it
    std::shared_ptr<const broker::Destination> destination;
  };
  std::array<ParsedDestination, 4> parsed_;
  std::size_t parsed_next_ = 0;
  // The last answer of permissions_ per access (they are fixed at login):
  // a pattern is matched once per destination, not once per frame.
  struct PermissionAnswer {
    bool known = false;
    bool allowed = false;
    std::string destination;  // canonical, "/queue/NAME"
  };
  mutable std::array<PermissionAnswer, 3> answers_;  // by auth::Access
  mutable std::string destination_text_;             // reused by may()
  bool authenticating_ = false;
  std::int64_t refuse_at_ms_ = 0;  // != 0: a refused login's ERROR waits until then
  std::string refuse_message_, refuse_detail_;
  std::optional<std::string> refuse_receipt_;
  // Expires with the session: a login answer posted back from the
  // authenticator's thread finds out whether the session is still there.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  bool connected_ = false;
  bool closing_ = false;
  bool released_ = false;
  bool disconnecting_ = false;

  std::uint32_t next_sub_no_ = 0;
  std::unordered_map<std::string, std::unique_ptr<Subscription>> subs_by_id_;
  std::unordered_map<SubscriptionNo, Subscription*> subs_;
  std::unordered_set<std::string> browsers_;  // ids of browser:true subscriptions (no broker part)
  std::vector<SubscriptionNo> credit_dirty_;    // auto subs with encoded, unsent messages
  std::vector<SubscriptionNo> credit_swap_;     // on_flush_done()'s list (reused)
  std::vector<SubscriptionNo> credit_writing_;  // auto subs with messages in the current write

  std::unordered_map<std::string, Transaction, StringHash, std::equal_to<>> transactions_;  // by name
  // Atomic-send op -> (COMMIT op, its settles): applied once the sends are durable.
  std::unordered_map<std::uint64_t, std::pair<std::uint64_t, std::vector<TxSettle>>> settles_after_;

  std::uint64_t next_op_ = 1;
  std::deque<PendingOp, RecyclingAllocator<PendingOp>> pending_;      // in order; front is the oldest
  // Receipt ids of answered ops, emptied, for the next ops to fill (clients
  // name receipts with a counter or a UUID, mostly past the 15 characters
  // std::string keeps inline). At most kSpareReceipts of kMaxSpareReceipt.
  static constexpr std::size_t kSpareReceipts = 256;
  static constexpr std::size_t kMaxSpareReceipt = 128;
  std::vector<std::string> spare_receipts_;
  std::uint64_t in_flight_bytes_ = 0;  // producer window use
  bool paused_ = false;

  std::int64_t connected_at_ms_ = 0;
  std::uint64_t messages_in_ = 0;
  std::uint64_t messages_out_ = 0;
};

}  // namespace ferry::net
