#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/client_events.h"
#include "broker/client_ids.h"
#include "broker/consumer_key.h"
#include "broker/consumer_options.h"
#include "broker/declared_queues.h"
#include "broker/delivery.h"
#include "broker/destination.h"
#include "broker/durable_subscription.h"
#include "broker/exchanges.h"
#include "broker/executor.h"
#include "broker/message.h"
#include "broker/message_selector.h"
#include "broker/options.h"
#include "broker/policy_store.h"
#include "broker/queue_arguments.h"
#include "broker/queue_counts.h"
#include "broker/topic_patterns.h"
#include "store/journal.h"
#include "broker/stream_replication.h"
#include "stream/committer.h"

namespace ferry::broker {

class ShardBroker;
class DeclaredExchanges;
class QueueLog;

// The whole broker seen from a connection: routes each operation to the
// shard that owns the destination (hash of vhost and name) and routes the
// answers back. Safe to call from any shard; it only posts tasks.
//
// Lifetime: created before the shards start, destroyed after they stop.
// ShardBroker objects are touched only on their own shard.
class Broker {
 public:
  // `journal` may be null (nothing persists); it must outlive the Broker.
  Broker(const BrokerOptions& options, Executor& executor, store::Journal* journal = nullptr);
  ~Broker();

  // Each shard registers the connection side before traffic starts.
  void set_client_events(ShardId shard, ClientEvents* events);

  ShardId owner_of(const Destination& d) const;

  // Publishes `m` to `d`. Call on ticket.shard. Returns how many answers
  // the ticket gets (each an Outcome; the publish is done when all came):
  // a topic message goes to its own topic and to every wildcard topic it
  // matches (TopicPatterns), routed here, on the publisher's shard, so one
  // producer's messages keep their order in each. A topic name that is a
  // pattern cannot be published to (one failure answer).
  // may_create false: a destination that does not exist yet is not created
  // (the op fails with Outcome::not_created); the connection's user lacks
  // configure permission on it. A SEND to a topic creates nothing lasting
  // and is not refused.
  [[nodiscard]] std::uint32_t publish(const Destination& d, MessageRef m, OpTicket ticket, bool may_create = true);
  // The same for a destination a session keeps (no copy of its strings).
  [[nodiscard]] std::uint32_t publish(std::shared_ptr<const Destination> d, MessageRef m, OpTicket ticket,
                                      bool may_create = true);
  // A topic name that is a pattern subscribes to every topic it matches
  // (not durably: refused with `durable`). `options.selector` (null: none)
  // filters what the consumer gets (queue.h, topic.h); a durable
  // subscription with one is refused. `options.exclusive` applies to
  // queues (queue.h); a topic subscription ignores it.
  void subscribe(const Destination& d, const ConsumerKey& key, AckMode mode, Window window,
                 std::optional<DurableSubscription> durable, OpTicket ticket, bool may_create = true,
                 ConsumerOptions options = {});
  // Run on the wildcard topic's owner (`home`): adds the pattern on every
  // shard, then runs `done` on `home`; removes it on every shard.
  void add_topic_pattern(ShardId home, const Destination& topic, std::function<void()> done);
  void remove_topic_pattern(const Destination& topic);
  // Exchanges and bindings (exchanges.h). A change is decided on shard 0's
  // replica, written to the declared-exchanges file when it touches
  // something durable, then applied on every other replica in shard 0's
  // order; `done` (may be empty) runs on `reply_to` once every replica has
  // it (so a publish after it is routed through it), with shard 0's verdict.
  void change_exchanges(ShardId reply_to, ExchangeChange change, std::function<void(Status)> done);
  // `shard`'s replica; touch it only on that shard.
  ExchangeReplica& exchanges(ShardId shard) { return *exchanges_[shard.value]; }
  // The queues a message published on `shard` to `exchange` with this
  // routing key and headers goes to (views valid until the next change on
  // that shard: use them at once). Fails for an unknown or internal
  // exchange, in RabbitMQ's words ("no exchange 'x' in vhost '/'").
  Status route_exchange(ShardId shard, const std::string& vhost, std::string_view exchange,
                        std::string_view routing_key, const HeaderLookup& headers,
                        std::vector<std::string_view>& queues);
  // Start-up, before the shards run: the durable exchanges and bindings
  // `store` remembers, on every replica; later changes are written there.
  // Returns a line for the log.
  Result<std::string> restore_exchanges(DeclaredExchanges* store);
  // remove_durable: UNSUBSCRIBE that also deletes the durable subscription.
  void unsubscribe(ShardId owner, const ConsumerKey& key, bool remove_durable, OpTicket ticket);
  void remove_durable(const DurableSubscription& s, OpTicket ticket);
  // A connection closed: its temporary queue goes, with what it holds.
  void drop_temporary_queue(const Destination& d);
  // Runs on d's owner: enqueue a message whose record is durable in `segment`.
  void enqueue_journaled(const Destination& d, std::string queue_key, MessageRef m,
                         store::SegmentId segment, std::uint64_t stamp, std::uint64_t offset,
                         std::uint32_t index);
  void post(ShardId shard, Task task) { executor_.post(shard, std::move(task)); }

  // Start-up, before the shards run: replays the journal into the shards.
  // Returns a one-line summary for the log; logs its progress about once a
  // second.
  std::string recover();
  // How far recover() is, 0..1 (1 before and after it). Any thread.
  double recovery_progress() const {
    const std::uint64_t total = recovery_total_.load(std::memory_order_relaxed);
    if (total == 0) return 1.0;
    return static_cast<double>(recovery_done_.load(std::memory_order_relaxed)) / static_cast<double>(total);
  }
  void settle(ShardId owner, const ConsumerKey& key, DeliverySeqs seqs,
              SettleAction action, OpTicket ticket);
  void credit(ShardId owner, const ConsumerKey& key, std::uint32_t messages, std::uint64_t bytes);
  void publish_internal(const Destination& d, MessageRef m);
  // Persistent messages for queues and topics, journaled as one atomic
  // record (a transaction's sends): a topic send becomes one message record
  // per durable subscription the topic has when the COMMIT is handled; after
  // a crash all of them or none exist. Each enters its queue once the
  // record is durable; then a topic send also goes to the topic's
  // non-durable subscribers. Call on ticket.shard. The ticket is answered
  // once, when the record is durable.
  void publish_atomic(std::vector<std::pair<Destination, MessageRef>> sends, OpTicket ticket);
  bool journaled() const { return journal_ != nullptr; }
  // Scheduled messages not due yet, all shards (max-scheduled-messages):
  // shards add and subtract; a SEND reads it. Any thread.
  std::atomic<std::int64_t>& scheduled_messages() { return scheduled_messages_; }

  // Runs fn(events) on `shard` with that shard's ClientEvents.
  template <typename Fn>
  void to_client(ShardId shard, Fn fn) {
    executor_.post(shard, [this, shard, fn = std::move(fn)]() mutable {
      if (ClientEvents* ev = client_events_[shard.value]) fn(*ev);
    });
  }

  // Runs on `shard`: that shard's part of the broker.
  ShardBroker& local(ShardId shard) { return *shards_[shard.value]; }
  // Housekeeping; call on `shard`.
  void tick(ShardId shard, std::int64_t now_ms);

  const BrokerOptions& options() const { return options_; }
  std::uint32_t shard_count() const { return static_cast<std::uint32_t>(shards_.size()); }

  // A new message id; unique within this broker run. Call from any shard.
  MessageId next_message_id(ShardId shard);
  // The client-ids connected now (one connection each per vhost). Any shard.
  ClientIds& client_ids() { return client_ids_; }

  // Queues per vhost over every shard (max-queues). Any shard.
  QueueCounts& queue_counts() { return queue_counts_; }
  // Streams per vhost over every shard (max-streams). Any shard.
  QueueCounts& stream_counts() { return stream_counts_; }
  // The group-commit thread of every stream partition (null: no streams).
  stream::StreamCommitter* stream_committer() { return stream_committer_.get(); }
  // The cluster's replicated streams (stream_replication.h); null: none.
  // Set before the shards run; it must outlive them.
  void set_stream_replication(StreamReplication* r) { stream_replication_ = r; }
  StreamReplication* stream_replication() const { return stream_replication_; }
  // Any thread: writes entry `offset` of `d`'s replicated log into the
  // local stream, on its owning shard (stream_replication.h).
  void apply_replicated(const Destination& d, std::uint64_t offset, stream::StreamEntry e);
  // Start-up, before the shards run (after recover()): opens the streams
  // found under options().streams.directory on their owning shards.
  // Returns a one-line summary for the log; a stream that cannot be opened
  // is logged (its use answers the error).
  std::string open_streams();

  // A SEND with queue arguments (a declaration, queue_arguments.h): the
  // queue is declared first (created with them, or checked against an
  // existing one's), then the message is published. Two answers.
  void publish_declaring(std::shared_ptr<const Destination> d, MessageRef m, OpTicket ticket, bool may_create,
                         std::shared_ptr<const QueueArguments> args);
  // Where queues declared with arguments (by STOMP headers) are remembered
  // across restarts, as the management API's declared queues are; touched
  // on shard 0 only. Null: not remembered (no data directory; tests).
  void set_declared_queues(DeclaredQueues* declared) { declared_queues_ = declared; }
  bool remembers_declarations() const { return declared_queues_ != nullptr; }
  // Call on any shard: remembers `d` with `args` (nullopt: forgets it);
  // `done(status)` runs on shard 0 once the file is written. Changes that
  // arrive together are written once (a burst of declarations does not
  // rewrite the file once per queue).
  void remember_declaration(const Destination& d, std::optional<QueueArguments> args,
                            std::function<void(const Status&)> done);
  // Forgets `d`'s declaration as remember_declaration(d, nullopt, ...); done
  // (on shard 0) also gets the arguments it was declared with, to put back
  // if the queue stays after all (nullopt: it was not declared; nothing
  // was written).
  void forget_declaration(const Destination& d,
                          std::function<void(const Status&, std::optional<QueueArguments> was)> done);
  // Where queues made by traffic are remembered across restarts (null: not
  // remembered; no data directory, tests). Set at start-up before the loops
  // run; the log itself takes records from any shard.
  void set_queue_log(QueueLog* log) { queue_log_ = log; }
  QueueLog* queue_log() const { return queue_log_; }

  // Policies (policy.h). The store is read and changed on shard 0 only
  // (the management API); null: no policies can be set (tests). Set it
  // before the shards run: its policies are given to every shard at once,
  // so queues recovered from the journal follow them.
  void set_policy_store(PolicyStore* store);
  PolicyStore* policy_store() { return policy_store_; }
  // Call on shard 0 after changing the store: every shard applies its
  // snapshot to its queues, then `done` runs on shard 0.
  void publish_policies(std::function<void()> done);

 private:
  struct AtomicSends {
    std::vector<std::pair<Destination, MessageRef>> sends;
    std::vector<std::pair<Destination, std::vector<std::string>>> durables;  // topic -> durable keys
    // Queue -> the body sizes of its sends, counted by its owner as on their
    // way in (ShardBroker::reserve_atomic) until they are enqueued.
    std::vector<std::pair<Destination, std::vector<std::uint64_t>>> queues;
    std::vector<bool> reserved;  // per queues[i]: its owner counted them
    std::string refused;         // the first owner's refusal: the COMMIT fails
    std::size_t waiting = 0;  // owners not answered yet (touched on the ticket's shard only)
  };
  // Once every owner answered: refuse the COMMIT, or write it.
  void atomic_answered(const std::shared_ptr<AtomicSends>& gather, OpTicket ticket);
  void write_atomic(const std::shared_ptr<AtomicSends>& gather, OpTicket ticket);
  // Answers a ticket with a failure from here (ticket.shard's own task).
  void refuse(OpTicket ticket, std::string error);
  // The wildcard topics `d` matches, as `shard` knows them.
  void match_patterns(ShardId shard, const Destination& d, std::vector<std::shared_ptr<const Destination>>& out);

  BrokerOptions options_;
  QueueCounts queue_counts_;  // before shards_: their queues release into it
  StreamReplication* stream_replication_ = nullptr;
  Executor& executor_;
  store::Journal* journal_;
  // Before shards_: their stream logs are closed (and forgotten by it) first.
  QueueCounts stream_counts_;
  std::unique_ptr<stream::StreamCommitter> stream_committer_;
  std::vector<std::unique_ptr<ShardBroker>> shards_;
  std::vector<ClientEvents*> client_events_;
  std::vector<std::unique_ptr<ExchangeReplica>> exchanges_;  // one per shard, touched only there
  DeclaredExchanges* exchange_store_ = nullptr;              // shard 0 only; null: nothing persists
  std::vector<std::vector<std::string_view>> routed_;        // per shard: publish()'s scratch
  std::vector<std::unique_ptr<TopicPatterns>> patterns_;  // one per shard, touched only there
  std::vector<std::vector<std::shared_ptr<const Destination>>> matched_;  // per shard: publish()'s scratch
  // One counter per shard, each touched only by its shard; padded apart.
  struct alignas(64) Counter {
    std::uint64_t value = 0;
  };
  std::vector<Counter> id_counters_;
  ClientIds client_ids_;
  DeclaredQueues* declared_queues_ = nullptr;
  PolicyStore* policy_store_ = nullptr;  // shard 0 only
  QueueLog* queue_log_ = nullptr;
  // A declaration waiting for the next batched write of declared_queues_.
  struct PendingDeclaration {
    DeclaredQueues::Change change;
    std::function<void(const Status&)> done;
  };
  std::vector<PendingDeclaration> pending_declarations_;  // shard 0 only
  bool declarations_posted_ = false;                      // shard 0 only
  std::atomic<std::uint64_t> recovery_done_{0}, recovery_total_{0};  // recover()'s progress
  std::atomic<std::int64_t> scheduled_messages_{0};
};

}  // namespace ferry::broker
