#include "broker/topic.h"
#include "selector/selector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ferry::broker {
namespace {

using Bodies = std::vector<std::string>;

// Plays the owning shard for a topic's subscription queues. Like
// ShardBroker, it tells the topic to resume whenever one of its queues frees
// space, synchronously.
class TopicHost : public QueueHost {
 public:
  struct Delivered {
    ConsumerKey consumer;
    Delivery delivery;
  };

  void deliver(const ConsumerKey& consumer, Delivery d) override {
    delivered.push_back({consumer, std::move(d)});
  }
  void removed(const Queue&, const QueueEntry&) override {}
  void returned(const Queue&, const QueueEntry&) override {}
  void dead_letter(const Queue&, const QueueEntry& e, std::string_view reason) override {
    dead_letters.push_back(e.message->body + ":" + std::string(reason));
  }
  void memory_changed(std::int64_t delta) override {
    memory += delta;
    EXPECT_GE(memory, 0);
  }
  void space_freed(Queue&) override {
    if (topic != nullptr) topic->resume();
  }
  std::int64_t now_ms() const override { return 1'000'000; }

  Bodies bodies_for(const ConsumerKey& who) const {
    Bodies out;
    for (const auto& d : delivered)
      if (d.consumer == who) out.push_back(d.delivery.message->body);
    return out;
  }
  std::vector<DeliverySeq> seqs_for(const ConsumerKey& who) const {
    std::vector<DeliverySeq> out;
    for (const auto& d : delivered)
      if (d.consumer == who) out.push_back(d.delivery.seq);
    return out;
  }

  Topic* topic = nullptr;
  std::vector<Delivered> delivered;
  std::vector<std::string> dead_letters;
  std::int64_t memory = 0;
};

MessageRef msg(std::string body) {
  MessageRef ref = make_message();
  Message* m = &ref.writable();
  m->destination = "/topic/news";
  m->body = std::move(body);
  return ref;
}

ConsumerKey consumer(std::uint64_t connection, std::uint32_t sub = 1) {
  return ConsumerKey{ShardId(0), ConnectionId(connection), SubscriptionNo(sub)};
}

class TopicTest : public ::testing::Test {
 protected:
  void make_topic() {
    Destination d{DestinationKind::kTopic, "news", "/"};
    topic = std::make_unique<Topic>(d, options, host, [this](const ConsumerKey& k, std::string why) {
      kicked.push_back(k);
      kick_reasons.push_back(std::move(why));
    });
    host.topic = topic.get();
  }
  // A topic whose large fan-outs are split: continuations wait in
  // `deferred` until the test runs them (a later loop turn).
  void make_splitting_topic() {
    Destination d{DestinationKind::kTopic, "news", "/"};
    topic = std::make_unique<Topic>(
        d, options, host,
        [this](const ConsumerKey& k, std::string why) {
          kicked.push_back(k);
          kick_reasons.push_back(std::move(why));
        },
        [this](std::function<void()> next) { deferred.push_back(std::move(next)); });
    topic->set_slice_ns(0);  // exactly kFanOutPerTurn a turn, whatever the clock says
    host.topic = topic.get();
  }
  // Runs the continuations posted so far (one loop turn); returns how many.
  std::size_t next_turn() {
    auto now = std::move(deferred);
    deferred.clear();
    for (auto& f : now) f();
    return now.size();
  }
  std::vector<std::function<void()>> deferred;

  // Publishes `body`; its completion is recorded in `completed`.
  void publish(const std::string& body) {
    topic->publish(msg(body), [this, body](Outcome o) {
      EXPECT_TRUE(o.ok) << o.error;
      completed.push_back(body);
    });
  }

  // Acks everything `who` received so far (what a `client` ACK of the last does).
  void ack_all(Queue& q, const ConsumerKey& who) { q.settle(who, host.seqs_for(who), SettleAction::kAck); }

  void TearDown() override {
    topic.reset();
    EXPECT_EQ(host.memory, 0) << "subscription queues must release their memory";
  }

  BrokerOptions options;
  TopicHost host;
  std::unique_ptr<Topic> topic;
  Bodies completed;
  std::vector<ConsumerKey> kicked;
  std::vector<std::string> kick_reasons;
  const ConsumerKey a = consumer(1);
  const ConsumerKey b = consumer(2);
  const ConsumerKey c = consumer(3, 7);
};

SelectorRef sel(std::string_view text) {
  auto r = selector::Selector::parse(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? r.value() : nullptr;
}

TEST_F(TopicTest, SubscriberWithASelectorGetsOnlyWhatItSelects) {
  make_topic();
  topic->subscribe(a, AckMode::kAuto, {100, 0}, sel("type = 'x' AND n > 1"));
  topic->subscribe(b, AckMode::kAuto, {100, 0});
  auto send = [&](std::string body, std::string type, std::string n) {
    MessageRef m = msg(body);
    m.writable().headers = {{"type", std::move(type)}, {"n", std::move(n)}};
    topic->publish(std::move(m), [this, body](Outcome) { completed.push_back(body); });
  };
  send("x1", "x", "1");
  send("x2", "x", "2");
  send("y3", "y", "3");
  EXPECT_EQ(host.bodies_for(a), (Bodies{"x2"}));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"x1", "x2", "y3"}));
  EXPECT_EQ(completed, (Bodies{"x1", "x2", "y3"}));
}

TEST_F(TopicTest, NoLocalSubscriberSkipsItsOwnConnectionsMessages) {
  make_topic();
  topic->subscribe(a, AckMode::kAuto, {100, 0}, nullptr, /*no_local=*/true);
  topic->subscribe(b, AckMode::kAuto, {100, 0});
  auto send = [&](std::string body, ConnectionId from) {
    MessageRef m = msg(body);
    m.writable().origin = from;
    topic->publish(std::move(m), [this, body](Outcome) { completed.push_back(body); });
  };
  send("own", a.connection);
  send("other", b.connection);
  send("broker", ConnectionId(0));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"other", "broker"}));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"own", "other", "broker"}));
  EXPECT_EQ(completed.size(), 3u);
}

// Filtered at fan-out: what a subscriber does not select is never queued
// for it, so it neither fills its buffer nor blocks the publisher.
TEST_F(TopicTest, UnselectedMessagesAreNeverQueuedForTheSubscriber) {
  options.slow_subscriber_policy = SlowSubscriberPolicy::kBlock;
  options.topic_subscriber_buffer = 1;
  make_topic();
  Queue& q = topic->subscribe(a, AckMode::kClient, {1, 0}, sel("type = 'x'"));
  auto send = [&](std::string body, std::string type) {
    MessageRef m = msg(body);
    m.writable().headers = {{"type", std::move(type)}};
    topic->publish(std::move(m), [this, body](Outcome) { completed.push_back(body); });
  };
  send("x1", "x");  // delivered, held unacknowledged
  for (int i = 0; i < 5; ++i) send("y" + std::to_string(i), "y");
  EXPECT_EQ(q.depth(), 0u);
  EXPECT_EQ(completed.size(), 6u);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"x1"}));
}

TEST_F(TopicTest, EverySubscriptionGetsEveryMessage) {
  make_topic();
  topic->subscribe(a, AckMode::kAuto, {100, 0});
  topic->subscribe(b, AckMode::kClient, {100, 0});
  topic->subscribe(c, AckMode::kClientIndividual, {100, 0});
  EXPECT_EQ(topic->subscription_count(), 3u);
  publish("1");
  publish("2");
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2"}));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"1", "2"}));
  EXPECT_EQ(host.bodies_for(c), (Bodies{"1", "2"}));
  EXPECT_EQ(completed, (Bodies{"1", "2"}));
}

TEST_F(TopicTest, FanOutSharesOneMessageObject) {
  make_topic();
  topic->subscribe(a, AckMode::kAuto, {100, 0});
  topic->subscribe(b, AckMode::kAuto, {100, 0});
  publish("x");
  ASSERT_EQ(host.delivered.size(), 2u);
  EXPECT_EQ(host.delivered[0].delivery.message.get(), host.delivered[1].delivery.message.get());
}

TEST_F(TopicTest, PublishWithoutSubscribersCompletesAndIsDropped) {
  make_topic();
  publish("lost");
  EXPECT_EQ(completed, (Bodies{"lost"}));
  EXPECT_EQ(host.memory, 0);
  topic->subscribe(a, AckMode::kAuto, {100, 0});
  EXPECT_TRUE(host.bodies_for(a).empty());
  EXPECT_FALSE(topic->idle());
}

TEST_F(TopicTest, LateSubscriptionGetsOnlyLaterMessages) {
  make_topic();
  topic->subscribe(a, AckMode::kAuto, {100, 0});
  publish("early");
  topic->subscribe(b, AckMode::kAuto, {100, 0});
  publish("late");
  EXPECT_EQ(host.bodies_for(a), (Bodies{"early", "late"}));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"late"}));
}

TEST_F(TopicTest, UnsubscribedGetsNothingMoreAndTopicBecomesIdle) {
  make_topic();
  topic->subscribe(a, AckMode::kClient, {100, 0});
  topic->subscribe(b, AckMode::kAuto, {100, 0});
  publish("1");
  topic->unsubscribe(a);
  publish("2");
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1"}));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"1", "2"}));
  topic->unsubscribe(b);
  EXPECT_TRUE(topic->idle());
  EXPECT_EQ(host.memory, 0) << "an unsubscribed queue's held message is released";
}

TEST_F(TopicTest, SubscriptionIsAQueueWithItsOwnWindow) {
  make_topic();
  Queue& qa = topic->subscribe(a, AckMode::kClient, {2, 0});
  publish("1");
  publish("2");
  publish("3");
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2"}));
  EXPECT_EQ(qa.depth(), 1u);
  ack_all(qa, a);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2", "3"}));
}

// --- Slow subscribers: block -------------------------------------------------

TEST_F(TopicTest, BlockPolicyParksPublishesUntilTheSlowSubscriberDrains) {
  options.slow_subscriber_policy = SlowSubscriberPolicy::kBlock;
  options.topic_subscriber_buffer = 2;
  make_topic();
  Queue& slow = topic->subscribe(a, AckMode::kClient, {1, 0});
  publish("1");  // delivered to a (held)
  publish("2");  // waits
  publish("3");  // waits: a's buffer is now full
  EXPECT_TRUE(slow.full());
  EXPECT_EQ(completed, (Bodies{"1", "2", "3"}));
  publish("4");
  publish("5");
  EXPECT_EQ(completed, (Bodies{"1", "2", "3"})) << "publishes must wait while a subscriber is full";
  EXPECT_FALSE(topic->idle());

  ack_all(slow, a);  // "2" goes out, one slot frees: "4" may go on
  EXPECT_EQ(completed, (Bodies{"1", "2", "3", "4"}));
  ack_all(slow, a);
  EXPECT_EQ(completed, (Bodies{"1", "2", "3", "4", "5"}));
  ack_all(slow, a);
  ack_all(slow, a);
  ack_all(slow, a);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2", "3", "4", "5"}));
  EXPECT_TRUE(kicked.empty());
}

TEST_F(TopicTest, BlockPolicyResumesAfterCreditForAutoSubscriber) {
  options.slow_subscriber_policy = SlowSubscriberPolicy::kBlock;
  options.topic_subscriber_buffer = 1;
  make_topic();
  Queue& slow = topic->subscribe(a, AckMode::kAuto, {1, 0});
  publish("1");  // written to a's connection, window spent
  publish("2");  // waits: buffer full
  publish("3");  // parked
  EXPECT_EQ(completed, (Bodies{"1", "2"}));
  slow.credit(a, 1, 1);  // "1" written: "2" goes out, "3" may go on
  EXPECT_EQ(completed, (Bodies{"1", "2", "3"}));
  slow.credit(a, 1, 1);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2", "3"}));
}

TEST_F(TopicTest, BlockPolicyHoldsBackEverySubscriberNotOnlyTheSlowOne) {
  options.slow_subscriber_policy = SlowSubscriberPolicy::kBlock;
  options.topic_subscriber_buffer = 1;
  make_topic();
  Queue& slow = topic->subscribe(a, AckMode::kClient, {1, 0});
  topic->subscribe(b, AckMode::kAuto, {1000, 0});
  publish("1");
  publish("2");
  publish("3");  // parked
  EXPECT_EQ(host.bodies_for(b), (Bodies{"1", "2"}));
  ack_all(slow, a);
  EXPECT_EQ(host.bodies_for(b), (Bodies{"1", "2", "3"}));
}

TEST_F(TopicTest, BlockPolicyReleasesParkedPublishesWhenSlowSubscriberLeaves) {
  options.slow_subscriber_policy = SlowSubscriberPolicy::kBlock;
  options.topic_subscriber_buffer = 1;
  make_topic();
  topic->subscribe(a, AckMode::kClient, {1, 0});
  topic->subscribe(b, AckMode::kAuto, {1000, 0});
  publish("1");
  publish("2");
  publish("3");
  publish("4");
  EXPECT_EQ(completed, (Bodies{"1", "2"}));
  topic->unsubscribe(a);
  // Completion order is BlockPolicyCompletesParkedPublishesInOrder's business.
  Bodies done = completed;
  std::sort(done.begin(), done.end());
  EXPECT_EQ(done, (Bodies{"1", "2", "3", "4"}));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"1", "2", "3", "4"}));
}

// BUG (src/broker/topic.cc, Topic::resume): resume() is re-entered through
// fan_out -> Queue::enqueue -> dispatch -> QueueHost::space_freed ->
// Topic::resume (ShardBroker::space_freed does exactly this). The nested call
// pops and completes the next parked publish before the outer one calls its
// `done`, so SEND completions (receipts) come back out of order: here "5"
// completes before "4". Expected: parked publishes complete in publish order.
TEST_F(TopicTest, BlockPolicyCompletesParkedPublishesInOrder) {
  options.slow_subscriber_policy = SlowSubscriberPolicy::kBlock;
  options.topic_subscriber_buffer = 1;
  make_topic();
  Queue& q = topic->subscribe(a, AckMode::kClient, {2, 0});
  publish("1");
  publish("2");
  publish("3");  // waits; buffer full
  publish("4");
  publish("5");
  publish("6");
  ASSERT_EQ(completed, (Bodies{"1", "2", "3"}));
  ack_all(q, a);  // frees the window of two
  ack_all(q, a);
  ack_all(q, a);
  ack_all(q, a);
  EXPECT_EQ(completed, (Bodies{"1", "2", "3", "4", "5", "6"}));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2", "3", "4", "5", "6"}));
}

// BUG (src/broker/topic.cc, Topic::resume / Topic::fan_out): the same
// re-entrancy, with a fast subscriber fanned out to before the slow one: the
// nested resume() fans the next parked message out first, so the slow
// subscriber's buffer is over its bound when the outer fan_out reaches it,
// and fan_out then kicks it although the policy is block (fan_out kicks any
// full queue regardless of policy). Expected: the slow subscriber stays and
// gets every message in order. Worse, the kick destroys the slow
// subscriber's Queue while that Queue's own settle() -> dispatch() is still
// on the stack (space_freed is called from inside it), a use-after-free that
// ASan reports. Which subscriber is fanned out to first
// follows unordered_map order, so whether this shows depends on the hashes;
// several fast subscribers make it likely one of them comes first.
TEST_F(TopicTest, BlockPolicyKeepsOrderAndNeverKicksWithSeveralSubscribers) {
  options.slow_subscriber_policy = SlowSubscriberPolicy::kBlock;
  options.topic_subscriber_buffer = 1;
  make_topic();
  Queue& slow = topic->subscribe(a, AckMode::kClient, {1, 0});
  std::vector<ConsumerKey> fast;
  for (std::uint64_t i = 10; i < 16; ++i) {
    fast.push_back(consumer(i));
    topic->subscribe(fast.back(), AckMode::kAuto, {1000, 0});
  }
  for (int i = 1; i <= 6; ++i) publish(std::to_string(i));
  for (int i = 0; i < 6; ++i) {
    // A kicked subscription's queue is gone: stop touching it.
    ASSERT_TRUE(kicked.empty()) << "slow subscriber kicked under the block policy";
    ack_all(slow, a);
  }
  const Bodies all{"1", "2", "3", "4", "5", "6"};
  EXPECT_TRUE(kicked.empty());
  EXPECT_EQ(completed, all);
  EXPECT_EQ(host.bodies_for(a), all);
  for (const auto& f : fast) EXPECT_EQ(host.bodies_for(f), all);
}

// --- Slow subscribers: disconnect --------------------------------------------

TEST_F(TopicTest, DisconnectPolicyKicksTheFullSubscriberOthersStillReceive) {
  options.slow_subscriber_policy = SlowSubscriberPolicy::kDisconnect;
  options.topic_subscriber_buffer = 1;
  make_topic();
  topic->subscribe(a, AckMode::kClient, {1, 0});
  topic->subscribe(b, AckMode::kAuto, {1000, 0});
  publish("1");  // a holds it
  publish("2");  // a's buffer full
  EXPECT_TRUE(kicked.empty());
  publish("3");  // a would overflow: kicked
  ASSERT_EQ(kicked.size(), 1u);
  EXPECT_EQ(kicked[0], a);
  EXPECT_NE(kick_reasons[0].find("slow subscriber"), std::string::npos) << kick_reasons[0];
  EXPECT_EQ(topic->subscription_count(), 1u);
  // Never parked under this policy.
  EXPECT_EQ(completed, (Bodies{"1", "2", "3"}));
  publish("4");
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1"}));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"1", "2", "3", "4"}));
  EXPECT_EQ(kicked.size(), 1u);
}

TEST_F(TopicTest, DisconnectPolicyLeavesSubscribersWithRoomAlone) {
  options.slow_subscriber_policy = SlowSubscriberPolicy::kDisconnect;
  options.topic_subscriber_buffer = 2;
  make_topic();
  Queue& qa = topic->subscribe(a, AckMode::kClient, {1, 0});
  publish("1");
  publish("2");
  ack_all(qa, a);
  publish("3");
  publish("4");  // a holds "2"; "3" and "4" wait: full only now, after the enqueue
  EXPECT_TRUE(kicked.empty());
  EXPECT_EQ(completed, (Bodies{"1", "2", "3", "4"}));
}

// Fairness (issue 18 item 10): a message for thousands of subscribers is
// handed to at most kFanOutPerTurn of them per loop turn; later publishes
// wait behind it, and every subscriber still gets every message exactly
// once, in order. Subscribing or leaving while a fan-out is spread over
// turns neither skips nor repeats anyone.
TEST_F(TopicTest, LargeFanOutIsSpreadOverTurnsAndKeepsOrder) {
  make_splitting_topic();
  const std::size_t n = 3 * Topic::kFanOutPerTurn + 10;
  std::vector<ConsumerKey> subs;
  for (std::size_t i = 0; i < n; ++i) {
    subs.push_back(consumer(100 + i));
    topic->subscribe(subs.back(), AckMode::kAuto, {1000, 0});
  }
  publish("1");
  publish("2");
  EXPECT_EQ(host.delivered.size(), Topic::kFanOutPerTurn) << "the first turn reaches only part of them";
  EXPECT_TRUE(completed.empty()) << "a publish completes only once every subscriber has it";
  EXPECT_TRUE(topic->fanning());
  // Meanwhile one subscriber leaves (one already served) and one joins.
  topic->unsubscribe(subs[0]);
  const ConsumerKey late = consumer(99999);
  topic->subscribe(late, AckMode::kAuto, {1000, 0});
  std::size_t turns = 1;
  while (next_turn() > 0) ++turns;
  EXPECT_GE(turns, 6u);
  EXPECT_EQ(completed, (Bodies{"1", "2"}));
  EXPECT_FALSE(topic->fanning());
  EXPECT_EQ(host.bodies_for(subs[0]), (Bodies{"1"}));
  for (std::size_t i = 1; i < n; ++i) EXPECT_EQ(host.bodies_for(subs[i]), (Bodies{"1", "2"})) << i;
  // It subscribed while "1" was being fanned out: not for "1". "2" waited
  // (as a publish parked by the block policy does) and goes to whoever is
  // subscribed when its fan-out starts.
  EXPECT_EQ(host.bodies_for(late), (Bodies{"2"}));
  publish("3");
  while (next_turn() > 0) {
  }
  EXPECT_EQ(host.bodies_for(late), (Bodies{"2", "3"}));
  EXPECT_EQ(host.bodies_for(subs[n - 1]), (Bodies{"1", "2", "3"}));
}

// A topic destroyed while its fan-out waits for a later turn: the
// continuation finds it gone and does nothing.
TEST_F(TopicTest, ContinuationAfterTheTopicIsGoneDoesNothing) {
  make_splitting_topic();
  for (std::size_t i = 0; i < Topic::kFanOutPerTurn + 1; ++i)
    topic->subscribe(consumer(100 + i), AckMode::kAuto, {1000, 0});
  publish("1");
  ASSERT_EQ(deferred.size(), 1u);
  topic.reset();
  host.topic = nullptr;
  next_turn();
  EXPECT_TRUE(completed.empty());
}

}  // namespace
}  // namespace ferry::broker
