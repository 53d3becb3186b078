#include "broker/topic.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace ferry::broker {

namespace {
std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Topic::Topic(Destination destination, const BrokerOptions& options, QueueHost& host, Kick kick, Defer defer)
    : destination_(std::move(destination)),
      options_(options),
      host_(host),
      kick_(std::move(kick)),
      defer_(std::move(defer)),
      self_(std::make_shared<Topic*>(this)) {}

Topic::~Topic() { *self_ = nullptr; }

bool Topic::blocked() const {
  if (options_.slow_subscriber_policy != SlowSubscriberPolicy::kBlock) return false;
  // Asked each time any subscription frees space (resume()): while blocked,
  // the subscriber found full last time usually still is, so it is looked
  // at first instead of walking thousands of subscriptions each time.
  if (full_hint_ < subscriptions_.size() && subscriptions_[full_hint_].queue->full()) return true;
  for (std::size_t i = 0; i < subscriptions_.size(); ++i) {
    if (subscriptions_[i].queue->full()) {
      full_hint_ = i;
      return true;
    }
  }
  return false;
}

void Topic::publish(MessageRef m, Done done) {
  ++published_;
  if (fanning_ || !parked_.empty() || blocked()) {
    // Producer flow control: the publish completes (and its producer may send
    // more) only when every subscriber has room again, and after the
    // fan-out in progress (order).
    parked_.push_back(Parked{std::move(m), std::move(done)});
    return;
  }
  // The clock only for a fan-out that may be split (a topic of ten
  // subscribers publishes a million messages a second: no clock read each).
  if (subscriptions_.size() > kFanOutPerTurn) slice_start_ns_ = steady_ns();
  start(Parked{std::move(m), std::move(done)});
}

bool Topic::start(Parked p) {
  current_ = std::move(p);
  fanning_ = true;
  next_ = 0;
  end_ = subscriptions_.size();
  if (fan_out_some()) return true;
  // The rest in a later turn: other connections of the shard go first.
  std::weak_ptr<Topic*> alive = self_;
  defer_([alive] {
    if (auto t = alive.lock(); t && *t != nullptr) (*t)->go_on();
  });
  return false;
}

void Topic::go_on() {
  slice_start_ns_ = steady_ns();
  if (!fan_out_some()) {
    std::weak_ptr<Topic*> alive = self_;
    defer_([alive] {
      if (auto t = alive.lock(); t && *t != nullptr) (*t)->go_on();
    });
    return;
  }
  in_go_on_ = true;
  resume();
  in_go_on_ = false;
}

bool Topic::fan_out_some() {
  const bool kick_slow = options_.slow_subscriber_policy == SlowSubscriberPolicy::kDisconnect;
  // At least kFanOutPerTurn deliveries, then as many as fit in this turn's
  // slice (the clock is read every 64).
  std::size_t stop = defer_ ? std::min(end_, next_ + kFanOutPerTurn) : end_;
  // Kicked after the loop: unsubscribing moves the vector under it.
  std::vector<ConsumerKey> slow;
  // Enqueueing dispatches, which may call back into resume(): fanning_
  // keeps it from starting another message meanwhile.
  for (;;) {
    if (next_ == stop) {
      if (stop == end_ || steady_ns() - slice_start_ns_ >= slice_ns_) break;
      stop = std::min(end_, next_ + 64);
    }
    Subscription& s = subscriptions_[next_++];
    // Filtered here, not by the subscription queue: what a subscriber does
    // not select never takes room in its buffer.
    if (s.selector != nullptr && !selects(s.selector, *current_.message)) continue;
    if (s.no_local && current_.message->origin == s.key.connection) continue;
    // Under the block policy publish() waited until nobody was full.
    if (kick_slow && s.queue->full()) {
      slow.push_back(s.key);
      continue;
    }
    s.queue->enqueue(current_.message);
  }
  for (const ConsumerKey& key : slow) {
    unsubscribe(key);
    kick_(key, "slow subscriber: more than topic-subscriber-buffer messages waiting");
  }
  if (next_ < end_) return false;
  fanning_ = false;
  Parked done = std::move(current_);
  current_ = Parked{};
  done.done(Outcome::success());
  return true;
}

Queue& Topic::subscribe(const ConsumerKey& key, AckMode mode, Window window, SelectorRef selector,
                        bool no_local) {
  QueueSettings s;
  s.max_deliveries = options_.max_deliveries;
  s.max_ready = options_.topic_subscriber_buffer;
  auto q = std::make_unique<Queue>(destination_, s, host_);
  Queue& ref = *q;
  // Appended after end_: a fan-out in progress does not reach it (it did
  // not exist when that message was published).
  subscriptions_.push_back(Subscription{key, std::move(q), std::move(selector), no_local});
  ref.add_consumer(key, mode, window);
  return ref;
}

void Topic::unsubscribe(const ConsumerKey& key) {
  auto it = std::find_if(subscriptions_.begin(), subscriptions_.end(),
                         [&](const Subscription& s) { return s.key == key; });
  if (it == subscriptions_.end()) return;
  const auto index = static_cast<std::size_t>(it - subscriptions_.begin());
  auto gone = std::move(it->queue);
  subscriptions_.erase(it);
  // A fan-out in progress keeps its place among the others.
  if (index < end_) --end_;
  if (index < next_) --next_;
  // The subscription is not durable: what it still buffered goes with it.
  // Redelivery inside a removed subscription is impossible, so nothing can
  // be requeued; the queue's destructor releases its memory.
  gone.reset();
  resume();
}

void Topic::resume() {
  // Fanning out dispatches, which frees space, which calls back here: the
  // outer loop owns the parked list so publishes complete in order.
  if (resuming_ || fanning_ || parked_.empty()) return;
  resuming_ = true;
  // Each parked publish started here gets at least kFanOutPerTurn; the
  // slice is this call's (or the continuation's that called it).
  if (!in_go_on_) slice_start_ns_ = steady_ns();
  while (!fanning_ && !parked_.empty() && !blocked()) {
    Parked p = std::move(parked_.front());
    parked_.pop_front();
    start(std::move(p));  // may go on in a later turn (fanning_ stays set)
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
