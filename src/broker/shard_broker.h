#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "broker/client_events.h"
#include "broker/consumer_key.h"
#include "broker/delivery.h"
#include "broker/destination.h"
#include "broker/durable_subscription.h"
#include "broker/options.h"
#include "broker/policy.h"
#include "broker/queue.h"
#include "broker/recovery.h"
#include "broker/stats.h"
#include "broker/stream_store.h"
#include "common/rate_window.h"
#include "common/recycling_allocator.h"
#include "broker/topic.h"
#include "store/journal.h"

namespace ferry::broker {

class Broker;

// The destinations one shard owns (by hash of vhost and name), the memory
// they hold, and their journal records. Every method runs on that shard;
// results travel back to connections through Broker (as posted tasks).
//
// Durability: an operation's answer (OpTicket) is sent only when every
// journal record it wrote is durable; a persistent message enters its queue
// (and can be delivered) only once its record is durable, so whatever a
// consumer can see or acknowledge is already on disk.
class ShardBroker final : public QueueHost {
 public:
  ShardBroker(ShardId self, Broker& broker, const BrokerOptions& options, store::Journal* journal);
  ~ShardBroker() override;

  // may_create: see Broker::publish. `routed`: a copy for a wildcard topic
  // that a SEND to another topic matched (not counted as published again).
  void publish(const Destination& d, MessageRef m, OpTicket ticket, bool may_create = true, bool routed = false);
  // Enqueues without limits or completion (dead letters of non-persistent messages).
  void publish_internal(const Destination& d, MessageRef m);
  // A committed transaction's topic send: to the topic's non-durable
  // subscribers only (its durable ones got it through the journal batch).
  void publish_nondurable(const Destination& topic, MessageRef m);
  // The journal keys of the topic's durable subscriptions now.
  std::vector<std::string> durable_keys(const Destination& topic) const;
  // A COMMIT's persistent sends to queue `d` (their body sizes), before
  // they are journaled: the queue is made if it does not exist (within
  // max-queues) and the messages are counted as on their way in, so that
  // x-overflow reject-publish refuses the COMMIT rather than overfill the
  // queue. An error (nothing reserved): the COMMIT is refused.
  std::optional<std::string> reserve_atomic(const Destination& d, const std::vector<std::uint64_t>& sizes);
  // Gives back what reserve_atomic counted (the sends are in, or the COMMIT
  // was refused).
  void release_atomic(const Destination& d, const std::vector<std::uint64_t>& sizes);
  // Enqueues a message whose record is already durable in `segment`.
  // `offset` / `index` locate the record (see PagedPosition): past the
  // memory limit, or behind paged messages, only that position is kept.
  void enqueue_journaled(const std::string& queue_key, MessageRef m, store::SegmentId segment,
                         std::uint64_t stamp, std::uint64_t offset, std::uint32_t index);
  void subscribe(const Destination& d, const ConsumerKey& key, AckMode mode, Window window,
                 std::optional<DurableSubscription> durable, OpTicket ticket, bool may_create = true,
                 ConsumerOptions options = {});
  // remove_durable: also delete the durable subscription (and its messages).
  void unsubscribe(const ConsumerKey& key, bool remove_durable, OpTicket ticket);
  // Deletes a durable subscription that has no consumer attached, if
  // s.owner (the user asking) owns it.
  void remove_durable(const DurableSubscription& s, OpTicket ticket);
  void settle(const ConsumerKey& key, DeliverySeqs seqs, SettleAction action,
              OpTicket ticket);
  void credit(const ConsumerKey& key, std::uint32_t messages, std::uint64_t bytes);
  // Periodic housekeeping: expiry, removal of idle destinations.
  void tick(std::int64_t now_ms);

  // Start-up only, before traffic: recreate state from the journal.
  void restore_subscription(const DurableSubscription& s, store::SegmentId record_segment);
  void restore_queue(const std::string& queue_key, std::vector<Recovery::Entry> entries);

  std::int64_t memory_used() const { return memory_used_; }
  // What the destinations themselves cost (queues, subscriptions, topics),
  // beyond their messages' bytes: counted against memory-limit too. Fixed
  // per-object estimates, measured with bench/footprint (an idle queue with
  // its map entry ~0.8 KB; one holding messages ~1.7 KB with its rate
  // windows and ready-list chunk, plus the messages).
  std::int64_t overhead_bytes() const;
  static constexpr std::size_t kQueueOverhead = 1536;
  static constexpr std::size_t kSubscriptionOverhead = 256;
  static constexpr std::size_t kTopicOverhead = 512;
  // Queues a burst of SENDs may create per loop turn (fairness, see
  // defer_creation); the rest wait for a later turn.
  static constexpr std::size_t kCreationsPerTurn = 512;
  // Queues the housekeeping tick visits per tick (fairness, see tick()):
  // a shard with more walks them in slices, one per tick.
  static constexpr std::size_t kQueuesPerTick = 4096;
  // How many queues the last tick visited (tests, and a profile).
  std::size_t queues_swept_last_tick() const { return swept_last_tick_; }
  std::size_t queue_count() const { return queues_.size(); }
  // This shard's streams (stream_store.h).
  StreamStore& streams() { return *streams_; }
  std::size_t topic_count() const { return topics_.size(); }

  // The policies every queue of this shard follows from now on (policy.h):
  // applied to each existing queue at once and to each queue made later.
  void set_policies(std::shared_ptr<const PolicySet> policies);

  // Management (docs/management.md); every call runs on this shard and
  // answers with values only.
  ShardStats stats() const;
  // Queues of this shard ("" vhost: every vhost), subscription queues excluded.
  std::vector<QueueStats> queue_stats(const std::string& vhost) const;
  std::optional<QueueStats> queue_stats(const Destination& d) const;
  std::vector<TopicStats> topic_stats() const;
  std::vector<DurableStats> durable_stats() const;
  // Creates the queue (kept while idle until deleted); kLimit: max-queues
  // refused it; kMismatch: it exists with other arguments (`*mismatch`
  // says which, RabbitMQ's text), nothing changed.
  enum class DeclareResult { kCreated, kExisted, kLimit, kMismatch };
  // enforce_limit false: declared queues restored at start-up (their
  // arguments are set, not compared). `args` null: no arguments given.
  DeclareResult declare_queue(const Destination& d, bool enforce_limit = true, const QueueArguments* args = nullptr,
                              std::string* mismatch = nullptr);
  // A SEND carrying queue arguments (Broker::publish_declaring): declares
  // the queue as SUBSCRIBE with arguments does, then publishes. The ticket
  // gets two answers: the declaration's and the publish's.
  void publish_declaring(const Destination& d, MessageRef m, OpTicket ticket, bool may_create,
                         const QueueArguments& args);
  enum class AdminError { kNone, kNotFound, kInUse };
  // Deletes a queue without consumers and its waiting messages.
  AdminError delete_queue(const Destination& d);
  // Runs `then` on this shard once every journal record this shard has
  // written so far is durable or failed (at once without a journal): an
  // answer that says messages are gone (a deleted or purged queue, a GET
  // that took them) waits for their ack records with it.
  void after_journal(std::function<void()> then);
  // A closed connection's temporary queue (broker::is_temporary_queue).
  void drop_temporary_queue(const Destination& d);
  // Removes the waiting messages (nullopt: no such queue).
  std::optional<std::size_t> purge_queue(const Destination& d);
  // Up to `count` waiting messages, in delivery order, without consuming
  // them (paged-out bodies are read back from the journal; the queue keeps
  // its stub). nullopt: no such queue.
  std::optional<std::vector<BrowsedMessage>> browse_queue(const Destination& d, std::size_t count);
  // Takes up to `count` waiting messages off the head of the queue, as
  // consumed and acknowledged (RabbitMQ's "get" with ackmode
  // ack_requeue_false): their ack records are written as a consumer's ack
  // writes them. nullopt: no such queue.
  std::optional<std::vector<BrowsedMessage>> take_messages(const Destination& d, std::size_t count);
  // A message from the management API (RabbitMQ's POST
  // /api/exchanges/VHOST/EXCHANGE/publish) for queue `d`, owned here.
  // Through the default exchange a queue that does not exist is not created
  // (`create` false): done(false), "routed": false as RabbitMQ answers; a
  // queue an exchange's binding leads to is made again if it was dropped
  // while idle (`create`, within max-queues). A persistent message is
  // journaled first, as a SEND is: done(true) once its record is durable,
  // an Error if it could not be written (then it is not enqueued).
  void publish_admin(const Destination& d, MessageRef m, bool create, std::function<void(Result<bool>)> done);
  // Moves up to `count` waiting messages of `from` (owned here) to `to`
  // (owned by any shard). Persistent ones travel in one atomic journal
  // record each (ack in `from` + message in `to`, as a dead-letter move),
  // so after a crash each is in exactly one of the two. `done(moved)` runs
  // on this shard once every record is durable; nullopt: no such queue.
  void move_messages(const Destination& from, const Destination& to, std::size_t count,
                     std::function<void(std::optional<std::size_t>)> done);

  // QueueHost
  void deliver(const ConsumerKey& consumer, Delivery d) override;
  void dead_letter(const Queue& from, const QueueEntry& e, std::string_view reason) override;
  void removed(const Queue& q, const QueueEntry& e) override;
  void returned(const Queue& q, const QueueEntry& e) override;
  void settled(const Queue& q, const QueueEntry& e) override;
  std::size_t page_in(const Queue& q, std::span<const PagedPosition> ps, std::uint64_t max_bytes,
                      std::vector<QueueEntry>& out) override;
  std::size_t page_in_copy(const Queue& q, std::span<const PagedPosition> ps, std::uint64_t max_bytes,
                           std::vector<QueueEntry>& out) override;
  void deliver_counted(const Queue& q, const QueueEntry& e, const ConsumerKey& consumer,
                       Delivery d) override;
  void memory_changed(std::int64_t delta) override;
  void space_freed(Queue& q) override;
  void scheduled_changed(std::int64_t delta) override;
  std::int64_t now_ms() const override;
  MessageCounters* totals() override { return &totals_; }

 private:
  // An operation answered once every journal write it made is durable.
  struct Op {
    std::optional<OpTicket> ticket;
    std::uint32_t waiting = 1;  // the operation itself + each pending write
    Outcome outcome;
  };
  using OpRef = std::shared_ptr<Op>;

  struct Parked {
    Destination destination;
    MessageRef message;
    OpTicket ticket;
    bool routed = false;
    OpRef op;  // set when begun already (it waits for its queue's creation record)
  };
  struct Subscription {
    Queue* queue = nullptr;
    Topic* topic = nullptr;       // set for topic subscriptions
    std::string durable_key;      // set for durable ones
  };

  std::size_t read_paged(const Queue& q, std::span<const PagedPosition> ps, std::uint64_t max_bytes,
                         std::vector<QueueEntry>& out, bool release_unreadable);
  // The destination's key in queues_/topics_, built in a reused buffer (a
  // lookup per message allocates nothing); valid until the next call.
  const std::string& key_of(const Destination& d) const {
    key_scratch_.assign(d.vhost).append(1, '\n').append(d.name);
    return key_scratch_;
  }
  std::unique_ptr<Queue> make_queue(const Destination& d);
  // Gives `q` the policy it matches now (none: none).
  void apply_policy(Queue& q) const;
  // A client's declaration (SEND or SUBSCRIBE with queue arguments): the
  // queue, created with `args` if missing (and may_create); an existing one
  // must have equivalent arguments. Null with an ok Outcome: not created
  // (may_create false). `created` says whether it is new.
  Queue* declare_for_client(const Destination& d, const QueueArguments& args, bool may_create, Outcome& outcome,
                            bool& created);
  // Answers a declaration's own answer of `ticket` once a queue created
  // with arguments is remembered across restarts (Broker::declared_queues).
  void answer_declaration(const Queue& q, bool created, OpTicket ticket);
  // x-message-ttl and x-max-priority of `q`, stamped on a message entering
  // it (a copy if the message is shared).
  static void apply_arguments(const Queue& q, MessageRef& m);
  // The queue's x-expires has run out: it goes, with its messages.
  void expire_queue(std::unordered_map<std::string, std::unique_ptr<Queue>>::iterator it);
  void finish_expiry(const Destination& d, std::int64_t used, std::optional<QueueArguments> declared);
  void keep_expiring_queue(const Destination& d, const Status& failed, bool deletion_logged,
                           std::optional<QueueArguments> declared);
  // The queue of `d`, created if missing; counted in max-queues, never refused.
  Queue& queue_for(const Destination& d);
  // The queue of `d`, created if missing and max-queues allows (a client's
  // SEND or SUBSCRIBE, a management PUT); null when the limit refuses it.
  Queue* create_queue(const Destination& d);
  // A queue made by traffic (create_queue from a SEND, SUBSCRIBE, COMMIT or
  // the API's publish) is remembered across restarts (Broker::queue_log);
  // `op` (if any) is answered only once that
  // record is durable, so a RECEIPT means the queue survives a kill -9
  // (a failed write is logged, not refused: see the .cc).
  // Nothing for a queue that is not durable (temporary, no journal).
  void record_creation(const Queue& q, const OpRef& op);
  // A queue deleted (API, x-expires) is forgotten there too.
  void record_deletion(const Destination& d, std::function<void(const Status&)> done);
  // "queue 'q' in vhost '/' is full (x-max-length 10, x-overflow reject-publish)".
  static std::string full_queue_text(const Queue& q);
  std::string queue_limit_text(const Destination& d) const;
  void erase_queue(std::unordered_map<std::string, std::unique_ptr<Queue>>::iterator it);
  // Removes every binding naming queue `d` (a deleted queue's bindings go
  // with it, as in RabbitMQ), when its vhost has any.
  void unbind_queue(const Destination& d);
  Topic& topic_for(const Destination& d);
  Queue* queue_by_journal_key(const std::string& key);
  QueueSettings durable_settings(std::string journal_key) const;
  void accept(const Destination& d, MessageRef m, OpRef op, bool routed);
  // A non-durable subscription to a wildcard topic went: its pattern too.
  void forget_pattern(const Destination& topic);
  // A SEND that would create a queue past this turn's budget (see .cc).
  void defer_creation(const Destination& d, MessageRef m, OpTicket ticket);
  // Enqueues into q, first journaling m when q is durable and m persistent.
  void admit(Queue& q, const MessageRef& m, const OpRef& op);
  // Journals a record; `op` (or the current operation) is answered only once
  // it is durable. The record's segment is retained `retains` times.
  store::SegmentId write(store::RecordType type, std::string_view payload, const OpRef& op,
                         std::uint32_t retains = 0);
  // `then` gets the segment and the offset of the batch record, or nullopt
  // and the journal's error text.
  using BatchDone =
      std::function<void(std::optional<store::SegmentId>, std::uint64_t, const std::string&)>;
  // `retains`: the segment is retained that many times for `then` (once per
  // queue a record of the batch enters).
  void write_batch(std::vector<std::pair<store::RecordType, std::string>> records, BatchDone then,
                   std::uint32_t retains = 1);
  // Two-phase settlement of one journaled delivery (see Queue::begin_settle).
  void settle_durably(Queue& q, const ConsumerKey& key, DeliverySeq seq, SettleAction action,
                      const OpRef& op);
  void finish_settle(const std::string& queue_key, const ConsumerKey& key, DeliverySeq seq,
                     MessageId id, SettleAction action, bool ok, const std::string& error,
                     const OpRef& op);
  // The queue a journal key names, if it exists (never creates one).
  Queue* find_journaled_queue(const std::string& key);
  // Where a dead letter goes (RabbitMQ's dead-lettering, docs/routing.md):
  // the copy that moves, with its x-death history, the queues its
  // dead-letter exchange routes it to (journaled with the source's ack as
  // one record: after a crash it is in the source or in all of them, never
  // both and never lost), and what is published only after the move (a
  // topic of amq.topic, a temporary queue: neither is journaled as a
  // queue). Both lists empty: dropped (unroutable, an unknown exchange, or
  // a dead-letter cycle RabbitMQ breaks).
  struct DeadLetterMove {
    MessageRef copy;
    std::vector<Destination> queues;
    std::vector<Destination> published;
  };
  DeadLetterMove dead_letter_move(const Queue& from, const QueueEntry& e, std::string_view reason);
  // Publishes a move's copy to its `published` destinations.
  void publish_after_move(const DeadLetterMove& move);
  // The ack record of a message that leaves without a consumer's ACK, kept
  // for a retry when the journal refuses it (see record_removal).
  void record_removal(const Queue& q, const QueueEntry& e);
  void unrecorded(std::shared_ptr<const std::string> queue_key, MessageId id, const std::string& error);
  void retry_unrecorded_removals();
  OpRef begin(std::optional<OpTicket> ticket);
  void end(const OpRef& op);
  bool over_limit() const { return memory_used_ + overhead_bytes() >= memory_limit_; }
  void resume_parked();
  std::uint64_t next_stamp();
  // Re-appends long-lived records of the oldest journal segment (see .cc).
  void compact();
  static constexpr std::uint64_t kCompactionGap = 4;     // segments between oldest and tail
  static constexpr std::size_t kCompactionBatch = 10000; // records moved per pass
  static constexpr std::uint64_t kPagedRecordEstimate = 1024; // bytes, for paged messages
  // requester: the user asking (refused unless the owner); nullptr: one of
  // its consumers, which had to be the owner to attach.
  void remove_durable_now(const std::string& key, const OpRef& op, const std::string* requester);
  void reply(const OpTicket& t, Outcome o);

  ShardId self_;
  Broker& broker_;
  const BrokerOptions& options_;
  store::Journal* journal_;  // null: nothing is journaled
  std::int64_t memory_limit_;
  std::int64_t memory_used_ = 0;
  std::unordered_map<std::string, std::unique_ptr<Queue>> queues_;
  std::shared_ptr<const PolicySet> policies_;  // null: none (policy.h)
  std::unordered_map<std::string, std::unique_ptr<Topic>> topics_;
  struct Durable {
    Topic* topic = nullptr;
    store::SegmentId record;  // segment of its kSubscription record (retained)
    std::string owner;        // "" = nobody (DurableSubscription::owner)
    bool exclusive = false;   // its consumers attached without asking to share
    std::uint64_t incarnation = 0;  // tells a re-created subscription of the same key apart
  };
  // Whether `request` may attach to the existing subscription `entry` (whose
  // queue is q): its owner's only, and shared only if every consumer asked.
  Outcome may_attach(const Durable& entry, const Queue& q, const DurableSubscription& request) const;
  // Writes the subscription's kSubscription record again (with the owner
  // held now) and, once it is durable, releases the one it replaces:
  // `expected` (compaction: only if that is still the current one), or
  // whatever is current (a claim). Nothing if the journal is off.
  void rewrite_subscription_record(const std::string& key, std::optional<store::SegmentId> expected);
  std::uint64_t next_incarnation_ = 0;
  std::unordered_map<std::string, Durable> durable_topics_;  // durable key -> its topic
  std::unordered_map<Queue*, Topic*> topic_of_;
  std::unordered_map<ConsumerKey, Subscription> subscriptions_;
  std::deque<Parked, RecyclingAllocator<Parked>> parked_;  // publishes waiting for memory (block policy)
  std::vector<Parked> deferred_;  // SENDs waiting for a queue-creation budget
  std::unordered_set<std::string> deferred_keys_;  // their queues (key_of)
  bool deferred_posted_ = false;
  std::size_t creations_left_ = kCreationsPerTurn;
  OpRef current_;              // the operation running now (acks attach to it)
  std::string scratch_;        // a record being encoded for the journal (reused)
  mutable std::string key_scratch_;  // see key_of()
  bool resuming_ = false;
  std::uint64_t next_stamp_ = 0;
  std::uint64_t ticks_ = 0;
  // Queues past their x-expires whose deletion records are being written.
  std::unordered_set<std::string> expiring_;
  static constexpr std::size_t kMaxUnrecordedRemovals = 1 << 20;  // ~40 MB at most
  std::vector<std::pair<std::shared_ptr<const std::string>, MessageId>> unrecorded_removals_;
  bool retrying_removals_ = false;
  bool unrecorded_overflow_logged_ = false;
  // The housekeeping sweep over queues_ (see tick()): the key of the queue
  // the next tick starts at (none: a new sweep starts at the beginning);
  // whether this sweep samples the queues' rates, and the tick the last
  // such sweep began.
  void sweep_queues(std::int64_t now_ms);
  std::optional<std::string> sweep_next_;
  bool sweep_rates_ = false;
  std::uint64_t rates_swept_tick_ = 0;
  std::size_t swept_last_tick_ = 0;
  std::unordered_set<std::uint64_t> compacting_;  // message ids being re-appended
  std::unordered_set<std::string> compacting_subs_;  // durable keys being re-appended

  // Management counters and their rates (sampled once a second in tick()).
  void sample_rates(std::int64_t now_ms);
  MessageCounters totals_;
  std::uint64_t published_ = 0;
  std::uint64_t dropped_replies_ = 0;  // replies to temporary queues that had gone
  RateWindow rate_publish_, rate_deliver_, rate_ack_, rate_redeliver_;
  std::unique_ptr<StreamStore> streams_;
};

}  // namespace ferry::broker
