#include "broker/topic.h"

#include <vector>

namespace ferry::broker {

Topic::Topic(Destination destination, const BrokerOptions& options, QueueHost& host, Kick kick)
    : destination_(std::move(destination)), options_(options), host_(host), kick_(std::move(kick)) {}

bool Topic::blocked() const {
  if (options_.slow_subscriber_policy != SlowSubscriberPolicy::kBlock) return false;
  for (const auto& [key, q] : subscriptions_)
    if (q->full()) return true;
  return false;
}

void Topic::publish(MessageRef m, Done done) {
  ++published_;
  if (!parked_.empty() || blocked()) {
    // Producer flow control: the publish completes (and its producer may send
    // more) only when every subscriber has room again.
    parked_.push_back(Parked{std::move(m), std::move(done)});
    return;
  }
  fan_out(m);
  done(Outcome::success());
}

void Topic::fan_out(const MessageRef& m) {
  std::vector<ConsumerKey> slow;
  const bool kick_slow = options_.slow_subscriber_policy == SlowSubscriberPolicy::kDisconnect;
  for (auto& [key, q] : subscriptions_) {
    // Under the block policy publish() waited until nobody was full.
    if (kick_slow && q->full()) {
      slow.push_back(key);
      continue;
    }
    q->enqueue(m);
  }
  for (const ConsumerKey& key : slow) {
    unsubscribe(key);
    kick_(key, "slow subscriber: more than topic-subscriber-buffer messages waiting");
  }
}

Queue& Topic::subscribe(const ConsumerKey& key, AckMode mode, Window window) {
  QueueSettings s;
  s.max_deliveries = options_.max_deliveries;
  s.max_ready = options_.topic_subscriber_buffer;
  auto q = std::make_unique<Queue>(destination_, s, host_);
  Queue& ref = *q;
  subscriptions_.emplace(key, std::move(q));
  ref.add_consumer(key, mode, window);
  return ref;
}

void Topic::unsubscribe(const ConsumerKey& key) {
  auto it = subscriptions_.find(key);
  if (it == subscriptions_.end()) return;
  auto gone = std::move(it->second);
  subscriptions_.erase(it);
  // The subscription is not durable: what it still buffered goes with it.
  // Redelivery inside a removed subscription is impossible, so nothing can
  // be requeued; the queue's destructor releases its memory.
  gone.reset();
  resume();
}

void Topic::resume() {
  // fan_out() dispatches, which frees space, which calls back here: the
  // outer loop owns the parked list so publishes complete in order.
  if (resuming_) return;
  resuming_ = true;
  while (!parked_.empty() && !blocked()) {
    Parked p = std::move(parked_.front());
    parked_.pop_front();
    fan_out(p.message);
    p.done(Outcome::success());
  }
  resuming_ = false;
}

}  // namespace ferry::broker

namespace ferry::broker {

Queue* Topic::durable(const std::string& key) {
  auto it = durables_.find(key);
  return it == durables_.end() ? nullptr : it->second.get();
}

Queue& Topic::add_durable(const std::string& key, QueueSettings settings) {
  auto& slot = durables_[key];
  if (!slot) slot = std::make_unique<Queue>(destination_, std::move(settings), host_);
  return *slot;
}

std::unique_ptr<Queue> Topic::remove_durable(const std::string& key) {
  auto it = durables_.find(key);
  if (it == durables_.end()) return nullptr;
  auto q = std::move(it->second);
  durables_.erase(it);
  return q;
}

}  // namespace ferry::broker
