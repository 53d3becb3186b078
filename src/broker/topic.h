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
// Owned by one shard; every method runs there.
class Topic {
 public:
  // Called when a publish completes (possibly later, if it had to wait for a
  // slow subscriber under the block policy).
  using Done = InlineFunction<void(Outcome), 56>;
  // Called for a subscriber dropped under the disconnect policy.
  using Kick = std::function<void(const ConsumerKey&, std::string reason)>;

  Topic(Destination destination, const BrokerOptions& options, QueueHost& host, Kick kick);

  void publish(MessageRef m, Done done);
  Queue& subscribe(const ConsumerKey& key, AckMode mode, Window window);
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
  bool idle() const { return subscriptions_.empty() && parked_.empty() && durables_.empty(); }
  std::size_t subscription_count() const { return subscriptions_.size(); }
  std::size_t durable_count() const { return durables_.size(); }
  // Non-durable subscription queues: fn(const ConsumerKey&, Queue&).
  template <typename Fn>
  void for_each_subscription(Fn fn) {
    for (auto& [key, q] : subscriptions_) fn(key, *q);
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
  bool blocked() const;  // some subscriber is full (block policy)
  void fan_out(const MessageRef& m);

  Destination destination_;
  const BrokerOptions& options_;
  QueueHost& host_;
  Kick kick_;
  std::unordered_map<ConsumerKey, std::unique_ptr<Queue>> subscriptions_;
  std::unordered_map<std::string, std::unique_ptr<Queue>> durables_;
  std::deque<Parked, RecyclingAllocator<Parked>> parked_;  // publishes waiting for room (block policy)
  bool resuming_ = false;
  std::uint64_t published_ = 0;
  RateWindow rate_in_;
};

}  // namespace ferry::broker
