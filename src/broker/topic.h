#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>
#include <unordered_map>

#include "broker/consumer_key.h"
#include "broker/delivery.h"
#include "broker/options.h"
#include "broker/queue.h"
#include "common/inline_function.h"
#include "common/rate_window.h"
#include "common/recycling_allocator.h"

namespace ferry::broker {

// Publish/subscribe: every subscription that exists when a message is
// published gets it. Each subscription is a Queue of its own (bounded by
// topic-subscriber-buffer) with one consumer, so delivery, acks and windows
// are the queue engine's.
//
// Fairness (issue 18 item 10): a topic fans out for at most kSliceNs of a
// loop turn (but at least kFanOutPerTurn deliveries, so it always
// progresses); the rest of the message, and the messages behind it, go on
// in later turns of the shard's loop (through `defer`), so a topic with
// thousands of subscribers cannot hold the shard for seconds. A fixed count
// per turn was not enough: with 2,000 subscribers a turn of the loop is
// long (it writes to all of them), and 1,024 deliveries a turn capped the
// topic at ~40 messages/s. Publishes that arrive meanwhile wait behind it (in
// order), and a publish completes (its producer may go on) only when every
// subscriber has it. Subscriptions keep their order in a vector, so a fan-out
// resumed later goes on where it stopped and reaches exactly the
// subscriptions that existed when it started.
//
// Owned by one shard; every method runs there.
class Topic {
 public:
  static constexpr std::size_t kFanOutPerTurn = 128;
  static constexpr std::int64_t kSliceNs = 2'000'000;
  // Called when a publish completes (possibly later, if it had to wait for a
  // slow subscriber under the block policy).
  using Done = InlineFunction<void(Outcome), 56>;
  // Called for a subscriber dropped under the disconnect policy.
  using Kick = std::function<void(const ConsumerKey&, std::string reason)>;
  // Runs a continuation in a later turn of the owning shard's loop. Empty:
  // a fan-out is never split (tests of other behaviour).
  using Defer = std::function<void(std::function<void()>)>;

  Topic(Destination destination, const BrokerOptions& options, QueueHost& host, Kick kick,
        Defer defer = {});
  ~Topic();

  void publish(MessageRef m, Done done);
  // A subscription with a `selector` is given only the messages it
  // selects: the others are never queued for it (filtered at fan-out).
  Queue& subscribe(const ConsumerKey& key, AckMode mode, Window window, SelectorRef selector = nullptr,
                   bool no_local = false);
  void unsubscribe(const ConsumerKey& key);
  // A subscription queue drained: parked publishes may go on.
  void resume();

  // Durable subscriptions: named queues (journal key = DurableSubscription::key())
  // that stay when their consumer leaves. The topic's Done callback is where
  // the owner feeds them, so that journaling stays out of this class.
  Queue* durable(const std::string& key);
  Queue& add_durable(const std::string& key, QueueSettings settings);
  std::unique_ptr<Queue> remove_durable(const std::string& key);
  template <typename Fn>
  void for_each_durable(Fn fn) {
    for (auto& [key, q] : durables_) fn(*q);
  }
  template <typename Fn>
  void for_each_durable_key(Fn fn) const {
    for (const auto& [key, q] : durables_) fn(key);
  }

  const Destination& destination() const { return destination_; }
  bool idle() const {
    return subscriptions_.empty() && parked_.empty() && durables_.empty() && !fanning_;
  }
  // A fan-out is spread over loop turns now.
  bool fanning() const { return fanning_; }
  // Tests: 0 makes every turn reach exactly kFanOutPerTurn subscribers.
  void set_slice_ns(std::int64_t ns) { slice_ns_ = ns; }
  std::size_t subscription_count() const { return subscriptions_.size(); }
  std::size_t durable_count() const { return durables_.size(); }
  // Non-durable subscription queues: fn(const ConsumerKey&, Queue&).
  template <typename Fn>
  void for_each_subscription(Fn fn) {
    for (auto& s : subscriptions_) fn(s.key, *s.queue);
  }

  // Management: messages published here since the topic was created.
  std::uint64_t published() const { return published_; }
  void sample_rates(std::int64_t now_ms) { rate_in_.sample(published_, now_ms); }
  double rate_in() const { return rate_in_.per_second(); }

 private:
  struct Parked {
    MessageRef message;
    Done done;
  };
  struct Subscription {
    ConsumerKey key;
    std::unique_ptr<Queue> queue;
    SelectorRef selector;  // null: every message
    bool no_local = false;  // skips its own connection's messages
  };
  bool blocked() const;  // some subscriber is full (block policy)
  // Starts `p`'s fan-out; false if it goes on in a later turn.
  bool start(Parked p);
  // Fans the current message out to up to kFanOutPerTurn more subscribers;
  // true when every one has it (then `done` has run).
  bool fan_out_some();
  void go_on();  // the deferred continuation

  Destination destination_;
  const BrokerOptions& options_;
  QueueHost& host_;
  Kick kick_;
  Defer defer_;
  std::vector<Subscription> subscriptions_;  // in subscription order
  // The fan-out in progress: subscriptions_[next_, end_) still lack it.
  bool fanning_ = false;
  Parked current_;
  std::size_t next_ = 0, end_ = 0;
  std::int64_t slice_start_ns_ = 0;  // this turn's fan-out began (steady clock)
  bool in_go_on_ = false;
  mutable std::size_t full_hint_ = 0;  // see blocked()
  std::int64_t slice_ns_ = kSliceNs;
  // Tells a deferred continuation whether this topic still exists.
  std::shared_ptr<Topic*> self_;
  std::unordered_map<std::string, std::unique_ptr<Queue>> durables_;
  std::deque<Parked, RecyclingAllocator<Parked>> parked_;  // publishes waiting for room (block policy)
  bool resuming_ = false;
  std::uint64_t published_ = 0;
  RateWindow rate_in_;
};

}  // namespace ferry::broker
