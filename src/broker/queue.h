#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/consumer_key.h"
#include "broker/consumer_options.h"
#include "broker/delivery.h"
#include "broker/destination.h"
#include "broker/message_selector.h"
#include "broker/paged_tail.h"
#include "broker/queue_arguments.h"
#include "broker/ready_list.h"
#include "broker/scheduled_entries.h"
#include "broker/stats.h"
#include "common/rate_window.h"
#include "common/recycling_allocator.h"

namespace ferry::broker {

class Queue;

// What a queue needs from the shard that owns it. Called synchronously on
// the owning shard; implementations may post work to other shards.
class QueueHost {
 public:
  virtual ~QueueHost() = default;
  // Hand `d` to the consumer's connection (usually on another shard).
  virtual void deliver(const ConsumerKey& consumer, Delivery d) = 0;
  // The entry left `from` for its dead-letter queue (the host moves it).
  virtual void dead_letter(const Queue& from, const QueueEntry& e, std::string_view reason) = 0;
  // The entry left the queue for good (acknowledged, auto-acked, expired,
  // discarded): a journaled one gets its ack record.
  virtual void removed(const Queue& q, const QueueEntry& e) = 0;
  // Reads paged-out messages back from the journal (see PagedTail), in
  // order, appending a full entry (message, segment, stamp, deliveries) for
  // each to `out`. Reads at most about `max_bytes` of records but always at
  // least one position. Returns how many positions of `ps` it consumed; a
  // consumed position that cannot be read is logged and has no entry in
  // `out` (the host releases its segment).
  virtual std::size_t page_in(const Queue& q, std::span<const PagedPosition> ps,
                              std::uint64_t max_bytes, std::vector<QueueEntry>& out) {
    return 0;
  }
  // As page_in, for a browser: reads without taking anything over (an
  // unreadable position is skipped and keeps its retain).
  virtual std::size_t page_in_copy(const Queue& q, std::span<const PagedPosition> ps,
                                   std::uint64_t max_bytes, std::vector<QueueEntry>& out) {
    return ps.size();
  }
  // The entry came back to the queue to be delivered again.
  virtual void returned(const Queue& q, const QueueEntry& e) = 0;
  // The entry left the queue for good through finish_settle(): its ack (or
  // dead-letter move) record is already durable, so only its segment's
  // retain goes.
  virtual void settled(const Queue& q, const QueueEntry& e) {}
  // Hand `d` of entry `e` to a consumer that will acknowledge it (`e`'s
  // `deliveries` already counts this delivery). A journaling host first
  // records the count, so a message seen by a consumer before a crash comes
  // back marked redelivered.
  virtual void deliver_counted(const Queue& q, const QueueEntry& e, const ConsumerKey& consumer,
                               Delivery d) {
    deliver(consumer, std::move(d));
  }
  // Bytes of queued messages held by this shard changed by `delta`.
  virtual void memory_changed(std::int64_t delta) = 0;
  // The queue's ready list shrank (a blocked publisher may go on).
  virtual void space_freed(Queue& q) = 0;
  // Messages held back until due (scheduled delivery) changed by `delta`
  // (for max-scheduled-messages).
  virtual void scheduled_changed(std::int64_t delta) {}
  virtual std::int64_t now_ms() const = 0;
  // The shard-wide counters every queue also adds to (null: none).
  virtual MessageCounters* totals() { return nullptr; }
};

struct QueueSettings {
  // (Small fields first, packed: an idle queue stays small.)
  std::uint32_t max_deliveries = 0;  // 0 = never dead-letter
  bool durable = false;              // journals its persistent messages
  bool is_dead_letter_queue = false; // never dead-letters its own messages
  // Message groups remembered (group -> consumer) at once; past it the
  // least recently used assignment is forgotten (max-groups-per-queue).
  std::uint32_t max_groups = 10000;
  std::uint32_t max_ready = 0;       // 0 = unbounded (memory-limit applies)
  std::string journal_key;           // names the queue in journal records
};

// The delivery engine: one queue, its waiting messages, its consumers and
// what each consumer holds unacknowledged. Topic subscriptions are queues of
// their own fed by the topic, so this is the only place that decides who
// gets what, windows, acks, redelivery and dead-lettering.
//
// Owned by one shard (ShardBroker); every method runs on that shard.
class Queue {
 public:
  static constexpr std::size_t kPageInBatch = 256;
  static constexpr std::uint64_t kPageInBytes = 1ull << 20;
  // With selective consumers, paged messages are read back while nothing in
  // memory is taken, until this many wait in memory (ActiveMQ's page size
  // idea): a selector can pick from at least these.
  static constexpr std::size_t kSelectorReadyLimit = 8 * kPageInBatch;

  // `destination` is the queue, or the topic a subscription queue is fed by.
  Queue(Destination destination, QueueSettings settings, QueueHost& host);
  ~Queue();
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  const std::string& name() const { return name_; }  // canonical: "/queue/x"
  const Destination& destination() const { return destination_; }
  const QueueSettings& settings() const { return settings_; }
  // settings().journal_key, shared: journal completions carry it without
  // copying the string.
  const std::shared_ptr<const std::string>& journal_key_ref() const { return journal_key_ref_; }

  // Takes a message and dispatches what it can. `segment` is the journal
  // segment already holding its record (0: not journaled); `deliveries` is
  // non-zero for a message recovered after earlier delivery attempts.
  // A message not due yet (Message::deliver_at_ms, scheduled delivery) is
  // held apart, invisible to consumers and browsers and not counted by
  // x-max-length, until expire() finds it due.
  void enqueue(MessageRef m, std::uint64_t segment = 0, std::uint32_t deliveries = 0,
               std::uint64_t stamp = 0);
  // Takes a journaled message whose body stays on disk: it joins the paged
  // tail (see PagedTail), read back by QueueHost::page_in when the messages
  // before it are gone. The position holds its segment's retain.
  void enqueue_paged(const PagedPosition& p);
  // Has a paged tail: new journaled messages must join it (enqueue_paged)
  // to keep enqueue order.
  bool paging() const { return !paged_.empty(); }
  std::size_t paged_count() const { return paged_.size(); }
  std::size_t paged_in(std::uint64_t segment) const { return paged_.count_in(segment); }
  // Compaction: reads the front of the paged tail held in `segment` back
  // into memory (at most about `max_bytes`), so that for_each_waiting sees
  // it. Returns how many messages it read.
  std::size_t page_in_front(std::uint64_t segment, std::uint64_t max_bytes);
  // Waiting entries, for compaction: fn(QueueEntry&) may change `segment`.
  template <typename Fn>
  void for_each_waiting(Fn fn) {
    ready_.for_each_mut(fn);
    if (ScheduledEntries* s = scheduled()) s->for_each_mut(fn);
  }
  // The entry (waiting or held) of message `id`, or null.
  QueueEntry* find_entry(MessageId id);
  // Would an enqueue exceed max_ready?
  bool full() const { return settings_.max_ready != 0 && ready_.size() >= settings_.max_ready; }

  // RabbitMQ's queue arguments (queue_arguments.h), fixed at creation (or
  // restored at start-up). What the queue itself applies:
  // - x-max-length / x-max-length-bytes with x-overflow drop-head: after an
  //   enqueue, the oldest waiting messages go (dead-lettered, reason
  //   `maxlen`, when the queue has a dead-letter exchange) until it fits;
  //   the reject-publish modes are the host's check (over_limit()) before
  //   a message comes in. Only waiting messages count (not unacknowledged
  //   ones), as in RabbitMQ.
  // - expired messages are dead-lettered (reason `expired`) when the queue
  //   has a dead-letter exchange, else dropped; rejected ones
  //   (requeue:false) and those past max-deliveries go there too.
  // - x-single-active-consumer: the first consumer subscribed gets every
  //   message, the others stand by and take over in subscription order
  //   (as exclusive consumers do, for every consumer).
  // x-message-ttl and x-max-priority are stamped on each message by the
  // host before it is journaled; x-expires is the host's housekeeping.
  //
  // A policy (policy.h) may add to or lower what it was declared with:
  // arguments() is what applies (the declared arguments under the
  // policy), declared_arguments() what a redeclaration is compared with
  // and what is remembered across restarts.
  void set_arguments(QueueArguments a);
  const QueueArguments& arguments() const;
  const QueueArguments& declared_arguments() const;
  // The policy this queue follows now (empty name: none), applied at once.
  void set_policy(std::string name, QueueArguments definition);
  const std::string& policy_name() const;
  const QueueArguments& policy_definition() const;
  // Would one more message of `body_bytes` (and `pending` messages of
  // `pending_bytes` on their way in) break x-max-length / x-max-length-bytes?
  bool over_limit(std::uint64_t body_bytes, std::size_t pending = 0, std::uint64_t pending_bytes = 0) const;
  // The last time (ms) a consumer came or went, or the queue was declared
  // (x-expires counts from it). Kept for a queue with arguments only.
  std::int64_t last_used_ms() const { return extras_ ? extras_->last_used_ms : 0; }
  void touch(std::int64_t now_ms) {
    if (extras_) extras_->last_used_ms = now_ms;
  }
  // Persistent messages on their way in (being journaled): counted by
  // over_limit() callers, so a burst cannot overshoot x-max-length. Only a
  // queue with arguments counts them.
  void note_admitting(std::uint64_t body_bytes, bool begins) {
    if (!extras_) return;
    Extras& a = *extras_;
    if (begins) {
      ++a.admitting;
      a.admitting_bytes += body_bytes;
    } else {
      a.admitting -= std::min<std::size_t>(a.admitting, 1);
      a.admitting_bytes -= std::min(a.admitting_bytes, body_bytes);
    }
  }
  std::size_t admitting() const { return extras_ ? extras_->admitting : 0; }
  std::uint64_t admitting_bytes() const { return extras_ ? extras_->admitting_bytes : 0; }
  // A message this queue cannot take dead-letters nowhere (dropped): a
  // dead-letter queue without a dead-letter exchange of its own.
  bool discards_dead_letters() const {
    return settings_.is_dead_letter_queue && !arguments().dead_letters();
  }

  // A consumer with a `selector` gets only the messages it selects; the
  // others wait for a consumer that takes them, and never hold up the
  // messages behind them (see dispatch_selected). Null: every message.
  // An exclusive consumer (options.exclusive) takes every message while it
  // is the first exclusive one subscribed; the other consumers stand by.
  //
  // Message groups (ActiveMQ's JMSXGroupID, or a `group` header), on a
  // queue (not a topic subscription): the first message of a group picks a
  // consumer as any message would; the group's later messages go to that
  // consumer only, while it stays (waiting, without holding up other
  // messages, while its window is full). When it leaves, or stops being
  // eligible (an exclusive consumer came), the group picks again.
  // JMSXGroupSeq -1 closes the group after that message. At most
  // settings().max_groups assignments are kept (least recently used
  // forgotten first).
  void add_consumer(const ConsumerKey& key, AckMode mode, Window window, ConsumerOptions options = {});
  // Returns the consumer's unacknowledged messages to the queue (redelivered).
  void remove_consumer(const ConsumerKey& key);
  bool has_consumer(const ConsumerKey& key) const;

  // Applies `action` to the consumer's deliveries `seqs` at once; unknown
  // seqs, and deliveries being settled (below), are ignored (they were
  // already settled or returned).
  void settle(const ConsumerKey& key, std::span<const DeliverySeq> seqs, SettleAction action);

  // Two-phase settlement, for an ACK or dead-letter move whose record must
  // be durable before it takes effect (a journaled delivery): an ACK that
  // cannot be written (a full disk) changes nothing.
  //
  // begin_settle marks the consumer's held delivery `seq` as settling and
  // returns its entry (valid until the next call on this queue); null if
  // unknown or already settling. A settling delivery stops counting toward
  // the consumer's window (its next message need not wait for the disk) but
  // stays held: if the consumer leaves meanwhile it is kept aside, not
  // redelivered, until finish_settle decides.
  const QueueEntry* begin_settle(const ConsumerKey& key, DeliverySeq seq);
  // The record of a delivery begin_settle marked is durable (`durable`) or
  // failed. Durable: kAck removes it (QueueHost::settled, no second record);
  // kDeadLetter removes it from this queue (the caller enqueues the copy it
  // journaled into the dead-letter queue). Failed: it is held again exactly
  // as before begin_settle, counting toward the window; kept aside (its
  // consumer left), it returns to the queue. `id` guards against a seq that
  // names another message by then. Unknown deliveries are ignored.
  void finish_settle(const ConsumerKey& key, DeliverySeq seq, MessageId id, SettleAction action,
                     bool durable);
  std::size_t settling_count() const;
  // An auto-ack consumer's connection wrote `messages` / `bytes` to its socket.
  void credit(const ConsumerKey& key, std::uint32_t messages, std::uint64_t bytes);

  // Removes every message, waiting or held (a durable subscription is being
  // deleted); each goes through QueueHost::removed. Consumers must be gone.
  void discard_all();
  // Browses up to `limit` waiting messages in delivery order as far as it
  // is known (the ready list by priority, then the paged tail in enqueue
  // order, read back from the journal in batches and not kept): fn(const
  // QueueEntry&) for each. Removes nothing. Returns how many it visited.
  template <typename Fn>
  std::size_t browse(std::size_t limit, Fn fn) {
    std::size_t n = 0;
    ready_.for_each([&](const QueueEntry& e) {
      if (n < limit) {
        fn(e);
        ++n;
      }
    });
    std::vector<PagedPosition> ps;
    std::vector<QueueEntry> read;
    std::size_t skip = 0;  // tail positions already visited
    while (n < limit && skip < paged_.size()) {
      ps.clear();
      read.clear();
      paged_.peek(skip + std::min(kPageInBatch, limit - n), ps);
      ps.erase(ps.begin(), ps.begin() + static_cast<std::ptrdiff_t>(std::min(skip, ps.size())));
      if (ps.empty()) break;
      skip += host_.page_in_copy(*this, ps, kPageInBytes, read);
      for (const QueueEntry& e : read) {
        if (n == limit) break;
        fn(e);
        ++n;
      }
    }
    return n;
  }
  // Removes every waiting message, in memory and paged (paged ones are read
  // back for their ids, for their ack records); held ones stay. Each goes
  // through QueueHost::removed. Returns how many were removed.
  std::size_t purge();

  // The shard's tick (every 100 ms): scheduled messages that came due join
  // the waiting ones (after those already waiting at their priority), then
  // expired waiting messages are dropped (they are never delivered).
  void expire(std::int64_t now_ms);
  // Scheduled messages not due yet.
  std::size_t scheduled_count() const { return scheduled() ? scheduled()->size() : 0; }

  // Management (on the owning shard): takes up to `count` waiting entries
  // out, in delivery order, paged ones read back (for a move to another
  // queue): their memory is no longer charged here and QueueHost::removed
  // is NOT called; the caller owns their journal retains.
  std::vector<QueueEntry> take_waiting(std::size_t count);
  // Kept while idle (created through the management API) until deleted.
  const MessageCounters& counters() const { return counters_; }
  // Called about once a second by the owner; feeds the rates.
  // The windows exist only once something moved: a queue that never saw a
  // message costs no rate memory.
  // `wall_ms` (the wall clock) stamps the history: one sample every
  // kHistoryIntervalMs, the last kHistorySamples kept (one minute), in a
  // ring of fixed size inside the rate memory: a queue that never moved
  // has none, one that did has ~0.7 KiB whatever its traffic. Fixed, not
  // configured: the overview keeps the broker's ten minutes.
  static constexpr std::int64_t kHistoryIntervalMs = 5000;
  static constexpr std::size_t kHistorySamples = 13;
  void sample_rates(std::int64_t now_ms, std::int64_t wall_ms) {
    if (!rates_) {
      if (counters_.enqueued == 0 && counters_.dequeued == 0) return;
      rates_ = std::make_unique<Rates>();
    }
    rates_->in.sample(counters_.enqueued, now_ms);
    rates_->out.sample(counters_.dequeued, now_ms);
    const std::int64_t slot = wall_ms - wall_ms % kHistoryIntervalMs;
    Rates& r = *rates_;
    if (r.history_size > 0) {
      const QueueSample& newest = r.history[(r.history_head + kHistorySamples - 1) % kHistorySamples];
      if (slot == newest.timestamp_ms) return;                   // this slot has its sample
      if (slot < newest.timestamp_ms) r.history_size = 0;        // the clock went back: start again
    }
    r.history[r.history_head] = QueueSample{slot,    counters_.enqueued, counters_.dequeued, counters_.acked,
                                            counters_.redelivered, depth(), unacked()};
    r.history_head = (r.history_head + 1) % kHistorySamples;
    r.history_size = std::min(r.history_size + 1, kHistorySamples);
  }
  // Oldest first.
  std::vector<QueueSample> history() const {
    std::vector<QueueSample> out;
    if (!rates_) return out;
    for (std::size_t i = 0; i < rates_->history_size; ++i)
      out.push_back(rates_->history[(rates_->history_head + kHistorySamples - rates_->history_size + i) %
                                    kHistorySamples]);
    return out;
  }
  double rate_in() const { return rates_ ? rates_->in.per_second() : 0.0; }
  double rate_out() const { return rates_ ? rates_->out.per_second() : 0.0; }
  // Frees what an idle stretch no longer needs (empty ready-list buckets);
  // the owner calls it from its housekeeping.
  void trim() { ready_.trim(); }

  std::size_t depth() const { return ready_.size() + paged_.size(); }
  std::size_t unacked() const;
  std::size_t consumer_count() const { return consumers_.size(); }
  // Its consumers now, in subscription order (management).
  std::vector<ConsumerStats> consumer_stats() const;
  std::size_t group_count() const { return groups_ ? groups_->by_name.size() : 0; }
  // Holds nothing and nobody: no message (ready, paged, scheduled, being
  // settled) and no consumer.
  bool idle() const {
    return ready_.empty() && paged_.empty() && consumers_.empty() && orphans_.empty() && scheduled_count() == 0;
  }
  std::uint64_t expired_count() const { return counters_.expired; }
  std::uint64_t discarded_count() const { return extras_ ? extras_->discarded : 0; }

 private:
  // What most queues never need, made on first use (an idle queue stays
  // small): the arguments and what a queue with arguments keeps, and the
  // count of discarded messages.
  struct Extras {
    QueueArguments arguments;  // what applies: declared under policy_definition
    QueueArguments declared;
    std::string policy;  // empty: none
    QueueArguments policy_definition;
    std::int64_t last_used_ms = 0;      // x-expires
    std::size_t admitting = 0;          // see note_admitting
    std::uint64_t admitting_bytes = 0;
    std::uint64_t discarded = 0;        // rejected in a dead-letter queue, or dropped by x-max-length
    std::unique_ptr<ScheduledEntries> scheduled;  // null until a scheduled message came
  };
  ScheduledEntries* scheduled() const { return extras_ ? extras_->scheduled.get() : nullptr; }
  // After the declared arguments or the policy changed.
  void apply_arguments();
  Extras& extras() {
    if (!extras_) extras_ = std::make_unique<Extras>();
    return *extras_;
  }
  struct Held {
    QueueEntry entry;
    std::uint64_t bytes = 0;
    bool released = false;  // kRelease: no longer counts toward the window
    bool settling = false;  // begin_settle: its record is being written
    bool released_by_settle = false;  // begin_settle released it (undone on failure)
  };
  struct Consumer {
    ConsumerKey key;
    AckMode mode = AckMode::kAuto;
    Window window;
    std::uint32_t in_flight = 0;       // counts toward the window
    std::uint64_t in_flight_bytes = 0;
    std::uint64_t next_seq = 0;
    SelectorRef selector;  // null: takes every message
    bool exclusive = false;
    bool stands_by = false;  // behind an exclusive consumer (see choose_exclusive)
    // Unacknowledged (not for kAuto); nodes recycled (one per delivery).
    std::map<std::uint64_t, Held, std::less<>, RecyclingAllocator<std::pair<const std::uint64_t, Held>>> held;
  };

  void dispatch();
  // dispatch() when some consumer has a selector: walks the waiting
  // messages in delivery order and gives each to a consumer with room that
  // selects it; the rest stay where they are.
  void dispatch_selected();
  Consumer* next_selecting(const Message& m);
  // The consumer `m` goes to now (its group's, or the next one with room
  // that selects it), or null: it waits. Assigns and closes groups.
  Consumer* pick(const Message& m);
  const std::string* group_of(const Message& m) const;
  void remember_group(const std::string& group, Consumer* c);
  void forget_groups_of(const Consumer* c);
  // Not standing by behind an exclusive consumer.
  static bool eligible(const Consumer& c) { return !c.stands_by; }
  void choose_exclusive();
  // Hands `e` to `c`, whose window already counts it.
  void hand_out(Consumer& c, QueueEntry e);
  // Reads up to kPageInBatch paged messages (about kPageInBytes) into the
  // ready list; expired ones are dropped. False when nothing was read.
  bool refill();
  std::size_t refill_from(std::size_t n, std::uint64_t max_bytes);
  void charge_paged();  // memory accounting of paged_'s blocks
  bool any_credit() const;
  Consumer* find(const ConsumerKey& key);
  bool has_credit(const Consumer& c) const;  // room in its window, and eligible
  // Requeue, or dead-letter after max_deliveries. `redelivery`: a NACK with
  // requeue or a consumer gone, which x-redelivery-delay holds back.
  void give_back(QueueEntry e, bool redelivery = false);
  void drop(const QueueEntry& e);  // the message leaves this queue for good
  void uncharge(const QueueEntry& e);
  void note_expiry(const Message& m);
  void to_dead_letter(const QueueEntry& e, std::string_view reason);
  // An expired entry that left the waiting list: dead-lettered or dropped.
  void expired(const QueueEntry& e);
  // x-overflow drop-head: the oldest waiting messages go until the queue
  // fits its x-max-length / x-max-length-bytes.
  void drop_head_to_fit();
  void forget_credit(Consumer& c, const Held& h);
  void bump(std::uint64_t MessageCounters::*field);
  // Holds `e` until its message is due (charged as waiting).
  // Held apart until `due` (0: the message's deliver_at_ms).
  void hold_scheduled(QueueEntry e, std::int64_t due = 0);
  void release_due(std::int64_t now_ms);

  Destination destination_;
  std::string name_;
  QueueSettings settings_;
  std::shared_ptr<const std::string> journal_key_ref_;
  QueueHost& host_;
  ReadyList ready_;
  PagedTail paged_;             // after everything in ready_ (enqueue order)
  std::int64_t paged_charged_ = 0;
  std::vector<std::unique_ptr<Consumer>> consumers_;
  // Settling deliveries whose consumer left before finish_settle (rare: a
  // disconnect during an ACK's fsync). By message id; charged as held.
  std::vector<QueueEntry> orphans_;
  std::size_t next_consumer_ = 0;  // round-robin cursor
  // Message groups: group -> its consumer, and the groups from least to
  // most recently used (for the max_groups bound). Only for /queue/ (a
  // topic subscription queue has one consumer).
  // Made on the first grouped message (an idle queue stays small).
  struct Group {
    Consumer* owner = nullptr;
    std::list<std::string>::iterator used;
  };
  struct Groups {
    std::map<std::string, Group, std::less<>> by_name;
    std::list<std::string> by_use;
    bool moved = false;  // an assignment went during the current walk
  };
  // Memory an assignment costs (the name twice, map and list nodes).
  static std::size_t group_cost(const std::string& name) { return 2 * name.size() + 128; }
  void erase_group(std::map<std::string, Group, std::less<>>::iterator it);
  std::unique_ptr<Groups> groups_;
  bool any_groups() const { return groups_ != nullptr && !groups_->by_name.empty(); }
  // scanned_: dispatch_selected()'s last walk reached the end, so no
  // consumer with room selects any message it left; until a consumer gains
  // room (or a message comes back), only messages enqueued since (order >=
  // unscanned_from_) are worth a look.
  std::uint64_t unscanned_from_ = 0;
  std::uint64_t next_order_ = 0;
  std::int64_t next_expiry_ = 0;  // no waiting message expires before this (0 = none expires)
  bool dispatching_ = false;
  bool scanned_ = false;         // see unscanned_from_
  bool grouping_ = false;        // a /queue/: honours message groups
  std::uint32_t selective_ = 0;  // consumers with a selector (0: the plain dispatch)
  MessageCounters counters_;
  MessageCounters* totals_ = nullptr;  // the shard's, from QueueHost::totals()
  struct Rates {
    RateWindow in, out;
    std::array<QueueSample, kHistorySamples> history{};  // see sample_rates
    std::size_t history_head = 0, history_size = 0;
  };
  std::unique_ptr<Rates> rates_;  // null until something moved (see sample_rates)
  std::unique_ptr<Extras> extras_;  // null until needed
};

}  // namespace ferry::broker
