#include "broker/queue.h"
#include "selector/selector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ferry::broker {
namespace {

// Plays the owning shard: records what the queue hands out, what it
// dead-letters and how its memory moves; the clock is set by the test.
class RecordingHost : public QueueHost {
 public:
  struct Delivered {
    ConsumerKey consumer;
    Delivery delivery;
    const std::string& body() const { return delivery.message->body; }
  };
  struct DeadLetter {
    std::string from;
    MessageRef message;
    std::string reason;
  };

  void deliver(const ConsumerKey& consumer, Delivery d) override {
    delivered.push_back({consumer, std::move(d)});
  }
  void removed(const Queue&, const QueueEntry&) override { ++removed_calls; }
  void returned(const Queue&, const QueueEntry&) override { ++returned_calls; }
  void settled(const Queue&, const QueueEntry&) override { ++settled_calls; }
  void dead_letter(const Queue& from, const QueueEntry& e, std::string_view reason) override {
    dead_letters.push_back({from.name(), e.message, std::string(reason)});
  }
  void memory_changed(std::int64_t delta) override {
    memory += delta;
    EXPECT_GE(memory, 0) << "memory accounting went negative";
  }
  void space_freed(Queue&) override { ++space_freed_calls; }
  std::int64_t now_ms() const override { return now; }

  // Bodies delivered to `who`, in delivery order.
  std::vector<std::string> bodies_for(const ConsumerKey& who) const {
    std::vector<std::string> out;
    for (const auto& d : delivered)
      if (d.consumer == who) out.push_back(d.body());
    return out;
  }
  std::vector<std::string> bodies() const {
    std::vector<std::string> out;
    for (const auto& d : delivered) out.push_back(d.body());
    return out;
  }
  // Sequence numbers `who` received, for settling them.
  std::vector<DeliverySeq> seqs_for(const ConsumerKey& who) const {
    std::vector<DeliverySeq> out;
    for (const auto& d : delivered)
      if (d.consumer == who) out.push_back(d.delivery.seq);
    return out;
  }
  const Delivered& last() const { return delivered.back(); }

  std::vector<Delivered> delivered;
  std::vector<DeadLetter> dead_letters;
  int removed_calls = 0;
  int returned_calls = 0;
  int settled_calls = 0;
  std::int64_t memory = 0;
  int space_freed_calls = 0;
  std::int64_t now = 1'000'000;
};

using Bodies = std::vector<std::string>;

MessageRef msg(std::string body, std::uint8_t priority = 4, std::int64_t expires_ms = 0) {
  static std::uint64_t next_id = 0;
  MessageRef ref = make_message();
  Message* m = &ref.writable();
  m->id = MessageId(++next_id);
  m->id_text = "m-" + std::to_string(next_id);
  m->destination = "/queue/work";
  m->body = std::move(body);
  m->priority = priority;
  m->expires_ms = expires_ms;
  return ref;
}

ConsumerKey consumer(std::uint64_t connection, std::uint32_t sub = 1) {
  return ConsumerKey{ShardId(0), ConnectionId(connection), SubscriptionNo(sub)};
}

Window window(std::uint32_t messages, std::uint64_t bytes = 0) { return Window{messages, bytes}; }

class QueueTest : public ::testing::Test {
 protected:
  std::unique_ptr<Queue> make_queue(QueueSettings settings = {}) {
    Destination d;
    d.kind = DestinationKind::kQueue;
    d.name = settings.is_dead_letter_queue ? "DLQ.work" : "work";
    d.vhost = "/";
    return std::make_unique<Queue>(d, settings, host);
  }

  void publish(Queue& q, const std::vector<std::string>& bodies) {
    for (const auto& b : bodies) q.enqueue(msg(b));
  }

  void settle(Queue& q, const ConsumerKey& who, std::vector<DeliverySeq> seqs, SettleAction a) {
    q.settle(who, seqs, a);
  }
  // Settles the most recent delivery of `body` to `who`.
  void settle_one(Queue& q, const ConsumerKey& who, const std::string& body, SettleAction a) {
    for (auto it = host.delivered.rbegin(); it != host.delivered.rend(); ++it) {
      if (it->consumer == who && it->body() == body) {
        q.settle(who, std::vector<DeliverySeq>{it->delivery.seq}, a);
        return;
      }
    }
    ADD_FAILURE() << "no delivery of " << body;
  }

  RecordingHost host;
  const ConsumerKey a = consumer(1);
  const ConsumerKey b = consumer(2);
  const ConsumerKey c = consumer(3);
};

// --- Holding and dispatch --------------------------------------------------

TEST_F(QueueTest, KeepsMessagesUntilAConsumerArrives) {
  auto q = make_queue();
  publish(*q, {"1", "2"});
  EXPECT_TRUE(host.delivered.empty());
  EXPECT_EQ(q->depth(), 2u);
  EXPECT_FALSE(q->idle());
  q->add_consumer(a, AckMode::kClient, window(10));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2"}));
  EXPECT_EQ(q->depth(), 0u);
  EXPECT_EQ(q->unacked(), 2u);
}

TEST_F(QueueTest, DeliversInFifoOrderWithIncreasingSeqs) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(100));
  publish(*q, {"1", "2", "3", "4"});
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2", "3", "4"}));
  auto seqs = host.seqs_for(a);
  for (std::size_t i = 1; i < seqs.size(); ++i) EXPECT_LT(seqs[i - 1], seqs[i]);
  for (const auto& d : host.delivered) EXPECT_EQ(d.delivery.earlier_deliveries, 0u);
}

TEST_F(QueueTest, RoundRobinOverConsumers) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(100));
  q->add_consumer(b, AckMode::kClient, window(100));
  q->add_consumer(c, AckMode::kClient, window(100));
  publish(*q, {"1", "2", "3", "4", "5", "6"});
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "4"}));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"2", "5"}));
  EXPECT_EQ(host.bodies_for(c), (Bodies{"3", "6"}));
  EXPECT_EQ(q->consumer_count(), 3u);
}

TEST_F(QueueTest, RoundRobinSkipsConsumersWithoutCredit) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(1));
  q->add_consumer(b, AckMode::kClient, window(100));
  publish(*q, {"1", "2", "3", "4"});
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1"}));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"2", "3", "4"}));
}

TEST_F(QueueTest, RoundRobinContinuesAfterAConsumerLeaves) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kAuto, window(100));
  q->add_consumer(b, AckMode::kAuto, window(100));
  q->add_consumer(c, AckMode::kAuto, window(100));
  publish(*q, {"1", "2"});  // a, b; next is c
  q->remove_consumer(b);
  publish(*q, {"3", "4", "5"});
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "4"}));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"2"}));
  EXPECT_EQ(host.bodies_for(c), (Bodies{"3", "5"}));
}

TEST_F(QueueTest, EachMessageGoesToExactlyOneConsumer) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(7));
  q->add_consumer(b, AckMode::kClient, window(3));
  std::vector<std::string> all;
  for (int i = 0; i < 10; ++i) all.push_back(std::to_string(i));
  publish(*q, all);
  auto got = host.bodies();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, all);
  EXPECT_EQ(q->depth(), 0u);
}

// --- Windows ---------------------------------------------------------------

TEST_F(QueueTest, MessageWindowIsNeverExceeded) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(3));
  publish(*q, {"1", "2", "3", "4", "5"});
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2", "3"}));
  EXPECT_EQ(q->depth(), 2u);
  EXPECT_EQ(q->unacked(), 3u);
  // Acking one opens exactly one slot.
  settle_one(*q, a, "1", SettleAction::kAck);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2", "3", "4"}));
  EXPECT_EQ(q->depth(), 1u);
}

TEST_F(QueueTest, ByteWindowStopsDeliveryOnceReached) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(100, 12));
  publish(*q, {"aaaa", "bbbb", "cccc", "dddd", "eeee"});
  // 3 x 4 bytes fill the 12-byte window exactly; nothing more goes out.
  EXPECT_EQ(host.bodies_for(a), (Bodies{"aaaa", "bbbb", "cccc"}));
  settle_one(*q, a, "aaaa", SettleAction::kAck);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"aaaa", "bbbb", "cccc", "dddd"}));
}

TEST_F(QueueTest, MessageLargerThanByteWindowStillGoesOutAlone) {
  // Otherwise a consumer with a small byte window would starve forever.
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(100, 4));
  publish(*q, {"0123456789", "x"});
  EXPECT_EQ(host.bodies_for(a), (Bodies{"0123456789"}));
  settle_one(*q, a, "0123456789", SettleAction::kAck);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"0123456789", "x"}));
}

TEST_F(QueueTest, AutoModeWindowIsRefilledByCredit) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kAuto, window(2));
  publish(*q, {"1", "2", "3", "4", "5"});
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2"}));
  EXPECT_EQ(q->unacked(), 0u);  // auto: nothing held
  EXPECT_EQ(q->depth(), 3u);
  q->credit(a, 1, 1);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2", "3"}));
  q->credit(a, 2, 2);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(q->depth(), 0u);
}

TEST_F(QueueTest, AutoModeByteWindowIsRefilledByByteCredit) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kAuto, window(100, 8));
  publish(*q, {"aaaa", "bbbb", "cccc"});
  EXPECT_EQ(host.bodies_for(a), (Bodies{"aaaa", "bbbb"}));
  q->credit(a, 1, 4);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"aaaa", "bbbb", "cccc"}));
}

TEST_F(QueueTest, CreditBeyondInFlightDoesNotWidenTheWindow) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kAuto, window(2));
  publish(*q, {"1"});
  q->credit(a, 50, 5000);  // more than was in flight
  publish(*q, {"2", "3", "4"});
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2", "3"}));
}

TEST_F(QueueTest, AutoModeConsumesOnDelivery) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kAuto, window(10));
  publish(*q, {"1", "2"});
  EXPECT_EQ(q->unacked(), 0u);
  EXPECT_EQ(host.memory, 0);
  // Nothing is held, so leaving returns nothing.
  q->remove_consumer(a);
  q->add_consumer(b, AckMode::kAuto, window(10));
  EXPECT_TRUE(host.bodies_for(b).empty());
}

// --- Settling --------------------------------------------------------------

TEST_F(QueueTest, AckRemovesForGood) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClientIndividual, window(10));
  publish(*q, {"1", "2"});
  settle(*q, a, host.seqs_for(a), SettleAction::kAck);
  EXPECT_EQ(q->unacked(), 0u);
  EXPECT_EQ(q->depth(), 0u);
  q->remove_consumer(a);
  q->add_consumer(b, AckMode::kClient, window(10));
  EXPECT_TRUE(host.bodies_for(b).empty());
  EXPECT_FALSE(q->idle());  // b is still subscribed
  q->remove_consumer(b);
  EXPECT_TRUE(q->idle());
}

TEST_F(QueueTest, SettlingUnknownOrAlreadySettledSeqsIsIgnored) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(10));
  publish(*q, {"1", "2"});
  auto seqs = host.seqs_for(a);
  settle(*q, a, {seqs[0]}, SettleAction::kAck);
  settle(*q, a, {seqs[0], DeliverySeq(999)}, SettleAction::kRequeue);  // already gone / never
  EXPECT_EQ(q->unacked(), 1u);
  EXPECT_EQ(host.delivered.size(), 2u);  // nothing redelivered
  settle(*q, consumer(42), seqs, SettleAction::kAck);  // unknown consumer
  EXPECT_EQ(q->unacked(), 1u);
}

TEST_F(QueueTest, SettleAppliesOnlyToTheNamedConsumer) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(10));
  q->add_consumer(b, AckMode::kClient, window(10));
  publish(*q, {"1", "2"});
  // b's seq 1 is "2"; a's seq 1 is "1". Acking b's seq as a must only touch a's.
  settle(*q, b, host.seqs_for(b), SettleAction::kAck);
  EXPECT_EQ(q->unacked(), 1u);
  q->remove_consumer(a);  // "1" comes back
  EXPECT_EQ(host.bodies_for(b), (Bodies{"2", "1"}));
}

TEST_F(QueueTest, RequeueRedeliversWithEarlierDeliveriesCounted) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClientIndividual, window(1));
  publish(*q, {"1", "2"});
  ASSERT_EQ(host.bodies_for(a), (Bodies{"1"}));
  settle_one(*q, a, "1", SettleAction::kRequeue);
  ASSERT_EQ(host.bodies_for(a), (Bodies{"1", "1"}));
  EXPECT_EQ(host.last().delivery.earlier_deliveries, 1u);
  EXPECT_NE(host.delivered[0].delivery.seq, host.delivered[1].delivery.seq);
  settle_one(*q, a, "1", SettleAction::kRequeue);
  EXPECT_EQ(host.last().body(), "1");
  EXPECT_EQ(host.last().delivery.earlier_deliveries, 2u);
  settle_one(*q, a, "1", SettleAction::kAck);
  EXPECT_EQ(host.last().body(), "2");
  EXPECT_EQ(host.last().delivery.earlier_deliveries, 0u);
}

TEST_F(QueueTest, RequeuedMessagesGoBackInOriginalOrderAheadOfNewerOnes) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(3));
  publish(*q, {"1", "2", "3", "4", "5"});
  ASSERT_EQ(host.bodies_for(a), (Bodies{"1", "2", "3"}));
  // Returned in reverse; they still come back as 1, 2, 3 before 4 and 5.
  auto seqs = host.seqs_for(a);
  settle(*q, a, {seqs[2], seqs[1], seqs[0]}, SettleAction::kRequeue);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2", "3", "1", "2", "3"}));
  q->remove_consumer(a);  // and once more, via the consumer leaving
  q->add_consumer(b, AckMode::kClient, window(10));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"1", "2", "3", "4", "5"}));
}

TEST_F(QueueTest, RequeuePutsMessageAheadOfNewerOnesForTheSameConsumer) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(2));
  publish(*q, {"1", "2", "3", "4"});
  auto seqs = host.seqs_for(a);
  settle(*q, a, {seqs[1], seqs[0]}, SettleAction::kRequeue);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2", "1", "2"}));
  EXPECT_EQ(q->depth(), 2u);  // 3 and 4 still wait
}

TEST_F(QueueTest, RemoveConsumerReturnsHeldMessagesToOthers) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(2));
  publish(*q, {"1", "2", "3"});
  ASSERT_EQ(host.bodies_for(a), (Bodies{"1", "2"}));
  q->add_consumer(b, AckMode::kClient, window(10));
  ASSERT_EQ(host.bodies_for(b), (Bodies{"3"}));
  q->remove_consumer(a);
  EXPECT_FALSE(q->has_consumer(a));
  EXPECT_TRUE(q->has_consumer(b));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"3", "1", "2"}));
  EXPECT_EQ(host.delivered[3].delivery.earlier_deliveries, 1u);
  EXPECT_EQ(host.delivered[4].delivery.earlier_deliveries, 1u);
  EXPECT_EQ(q->unacked(), 3u);
}

TEST_F(QueueTest, RemoveConsumerWithNobodyElseKeepsMessagesWaiting) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(10));
  publish(*q, {"1", "2"});
  q->remove_consumer(a);
  EXPECT_EQ(q->depth(), 2u);
  EXPECT_EQ(q->unacked(), 0u);
  q->add_consumer(b, AckMode::kClient, window(10));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"1", "2"}));
}

TEST_F(QueueTest, RemoveUnknownConsumerIsHarmless) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(10));
  q->remove_consumer(b);
  EXPECT_EQ(q->consumer_count(), 1u);
}

// --- Dead letters ----------------------------------------------------------

TEST_F(QueueTest, MaxDeliveriesSendsToDeadLetter) {
  auto q = make_queue({.max_deliveries = 3});
  q->add_consumer(a, AckMode::kClientIndividual, window(10));
  publish(*q, {"poison"});
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(host.delivered.size(), static_cast<std::size_t>(i + 1));
    settle_one(*q, a, "poison", SettleAction::kRequeue);
  }
  // Delivered exactly max_deliveries times, then dead-lettered.
  EXPECT_EQ(host.delivered.size(), 3u);
  ASSERT_EQ(host.dead_letters.size(), 1u);
  EXPECT_EQ(host.dead_letters[0].reason, "max-deliveries");
  EXPECT_EQ(host.dead_letters[0].from, "/queue/work");
  EXPECT_EQ(host.dead_letters[0].message->body, "poison");
  EXPECT_EQ(q->depth(), 0u);
  EXPECT_EQ(q->unacked(), 0u);
  EXPECT_EQ(host.memory, 0);
}

// RabbitMQ's x-delivery-limit N: N failed deliveries are allowed (N + 1
// deliveries in all), whatever max-deliveries says.
TEST_F(QueueTest, DeliveryLimitArgumentOverridesMaxDeliveries) {
  auto q = make_queue({.max_deliveries = 10});
  QueueArguments args;
  ASSERT_TRUE(args.set("x-delivery-limit", "1"));
  q->set_arguments(args);
  q->add_consumer(a, AckMode::kClientIndividual, window(10));
  publish(*q, {"poison"});
  settle_one(*q, a, "poison", SettleAction::kRequeue);
  EXPECT_TRUE(host.dead_letters.empty()) << "one failed delivery is allowed";
  ASSERT_EQ(host.delivered.size(), 2u);
  settle_one(*q, a, "poison", SettleAction::kRequeue);
  ASSERT_EQ(host.dead_letters.size(), 1u);
  EXPECT_EQ(host.dead_letters[0].reason, "delivery_limit");
  EXPECT_EQ(host.delivered.size(), 2u);
  EXPECT_EQ(q->depth(), 0u);
}

TEST_F(QueueTest, ConsumerDeathsCountTowardMaxDeliveries) {
  auto q = make_queue({.max_deliveries = 2});
  publish(*q, {"m"});
  q->add_consumer(a, AckMode::kClient, window(10));
  q->remove_consumer(a);
  EXPECT_TRUE(host.dead_letters.empty());
  q->add_consumer(b, AckMode::kClient, window(10));
  q->remove_consumer(b);
  ASSERT_EQ(host.dead_letters.size(), 1u);
  EXPECT_EQ(host.dead_letters[0].reason, "max-deliveries");
  EXPECT_EQ(q->depth(), 0u);
}

TEST_F(QueueTest, MaxDeliveriesZeroNeverDeadLetters) {
  auto q = make_queue({.max_deliveries = 0});
  q->add_consumer(a, AckMode::kClient, window(10));
  publish(*q, {"m"});
  for (int i = 0; i < 50; ++i) settle_one(*q, a, "m", SettleAction::kRequeue);
  EXPECT_TRUE(host.dead_letters.empty());
  EXPECT_EQ(host.delivered.size(), 51u);
  EXPECT_EQ(host.last().delivery.earlier_deliveries, 50u);
}

TEST_F(QueueTest, DeadLetterActionRejectsAtOnce) {
  auto q = make_queue({.max_deliveries = 10});
  q->add_consumer(a, AckMode::kClient, window(10));
  publish(*q, {"bad", "good"});
  settle_one(*q, a, "bad", SettleAction::kDeadLetter);
  ASSERT_EQ(host.dead_letters.size(), 1u);
  EXPECT_EQ(host.dead_letters[0].reason, "rejected");
  EXPECT_EQ(host.dead_letters[0].message->body, "bad");
  EXPECT_EQ(host.delivered.size(), 2u);  // not redelivered
  EXPECT_EQ(q->unacked(), 1u);
}

TEST_F(QueueTest, DeadLetterQueueNeverDeadLettersOnMaxDeliveries) {
  auto q = make_queue({.max_deliveries = 2, .is_dead_letter_queue = true});
  q->add_consumer(a, AckMode::kClient, window(10));
  publish(*q, {"m"});
  for (int i = 0; i < 5; ++i) settle_one(*q, a, "m", SettleAction::kRequeue);
  q->remove_consumer(a);
  EXPECT_TRUE(host.dead_letters.empty());
  EXPECT_EQ(host.delivered.size(), 6u);
  EXPECT_EQ(q->depth(), 1u);  // still there, waiting
}

// BUG (src/broker/queue.cc, Queue::settle): QueueSettings documents that a
// dead-letter queue "never dead-letters its own messages", but kDeadLetter
// (NACK requeue:false) calls to_dead_letter() unconditionally, so through
// ShardBroker::dead_letter a message rejected from /queue/DLQ.x moves on to
// /queue/DLQ.DLQ.x (and so on, one level per rejection). Expected: no
// dead_letter() from a dead-letter queue (keep it or drop it, but do not
// forward it).
TEST_F(QueueTest, DeadLetterQueueNeverDeadLettersOnReject) {
  auto q = make_queue({.max_deliveries = 2, .is_dead_letter_queue = true});
  q->add_consumer(a, AckMode::kClient, window(10));
  publish(*q, {"m"});
  settle_one(*q, a, "m", SettleAction::kDeadLetter);
  EXPECT_TRUE(host.dead_letters.empty());
}

// --- Transactions (release) -------------------------------------------------

TEST_F(QueueTest, ReleaseFreesWindowButKeepsMessageHeldUntilAck) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(1));
  publish(*q, {"1", "2"});
  ASSERT_EQ(host.bodies_for(a), (Bodies{"1"}));
  settle_one(*q, a, "1", SettleAction::kRelease);
  // The window opened, so "2" went out, yet "1" is still held.
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2"}));
  EXPECT_EQ(q->unacked(), 2u);
  // Releasing again does not open the window a second time.
  settle_one(*q, a, "1", SettleAction::kRelease);
  publish(*q, {"3"});
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2"}));
  // COMMIT: the ack removes it for good.
  settle_one(*q, a, "1", SettleAction::kAck);
  EXPECT_EQ(q->unacked(), 1u);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2"}));  // window still full with "2"
  settle_one(*q, a, "2", SettleAction::kAck);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2", "3"}));
}

TEST_F(QueueTest, ReleasedThenRequeuedIsRedelivered) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(1));
  publish(*q, {"1", "2"});
  settle_one(*q, a, "1", SettleAction::kRelease);  // "2" goes out
  settle_one(*q, a, "2", SettleAction::kAck);
  // ABORT: "1" comes back, counted as redelivered.
  settle_one(*q, a, "1", SettleAction::kRequeue);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2", "1"}));
  EXPECT_EQ(host.last().delivery.earlier_deliveries, 1u);
}

TEST_F(QueueTest, ReleasedMessagesReturnWhenConsumerLeaves) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(5));
  publish(*q, {"1"});
  settle_one(*q, a, "1", SettleAction::kRelease);
  q->remove_consumer(a);
  q->add_consumer(b, AckMode::kClient, window(5));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"1"}));
}

// --- Expiry -----------------------------------------------------------------

TEST_F(QueueTest, ExpireDropsExpiredWaitingMessages) {
  auto q = make_queue();
  q->enqueue(msg("soon", 4, host.now + 10));
  q->enqueue(msg("never", 4, 0));
  q->enqueue(msg("later", 4, host.now + 1000));
  const int freed_before = host.space_freed_calls;
  q->expire(host.now + 10);
  EXPECT_EQ(q->depth(), 2u);
  EXPECT_EQ(q->expired_count(), 1u);
  EXPECT_GT(host.space_freed_calls, freed_before);
  q->add_consumer(a, AckMode::kClient, window(10));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"never", "later"}));
}

TEST_F(QueueTest, ExpireFindsEachDeadlineOverSeveralPasses) {
  // expire() skips its walk until the earliest deadline; after each pass it
  // must still know the next one, also for messages that arrive later.
  auto q = make_queue();
  q->enqueue(msg("t30", 4, host.now + 30));
  q->enqueue(msg("t10", 4, host.now + 10));
  q->enqueue(msg("never", 4, 0));
  q->expire(host.now + 5);
  EXPECT_EQ(q->expired_count(), 0u);
  q->expire(host.now + 10);
  EXPECT_EQ(q->expired_count(), 1u);
  q->enqueue(msg("t20", 4, host.now + 20));
  q->expire(host.now + 20);
  EXPECT_EQ(q->expired_count(), 2u);
  q->expire(host.now + 29);
  EXPECT_EQ(q->expired_count(), 2u);
  q->expire(host.now + 30);
  EXPECT_EQ(q->expired_count(), 3u);
  q->expire(host.now + 1000000);
  EXPECT_EQ(q->expired_count(), 3u);
  q->add_consumer(a, AckMode::kClient, window(10));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"never"}));
}

TEST_F(QueueTest, ExpiredMessagesAreNeverDeliveredAtDispatch) {
  auto q = make_queue();
  q->enqueue(msg("a", 4, host.now + 5));
  q->enqueue(msg("b", 4, 0));
  q->enqueue(msg("c", 4, host.now + 5));
  q->enqueue(msg("d", 9, host.now + 5));
  host.now += 5;  // no expire() ran: dispatch itself must check
  q->add_consumer(a, AckMode::kClient, window(10));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"b"}));
  EXPECT_EQ(q->expired_count(), 3u);
  EXPECT_EQ(q->depth(), 0u);
}

TEST_F(QueueTest, ExpiredRequeuedMessageIsNotRedelivered) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(10));
  q->enqueue(msg("x", 4, host.now + 100));
  ASSERT_EQ(host.bodies_for(a), (Bodies{"x"}));
  host.now += 100;
  settle_one(*q, a, "x", SettleAction::kRequeue);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"x"}));
  EXPECT_EQ(q->depth(), 0u);
  EXPECT_EQ(host.memory, 0);
}

TEST_F(QueueTest, MessageExpiringLaterIsDelivered) {
  auto q = make_queue();
  q->enqueue(msg("x", 4, host.now + 1));
  q->add_consumer(a, AckMode::kClient, window(10));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"x"}));
}

// --- Priority ---------------------------------------------------------------

TEST_F(QueueTest, HigherPriorityIsDispatchedFirst) {
  auto q = make_queue();
  q->enqueue(msg("p1", 1));
  q->enqueue(msg("p4", 4));
  q->enqueue(msg("p9", 9));
  q->enqueue(msg("p4b", 4));
  q->add_consumer(a, AckMode::kClient, window(10));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"p9", "p4", "p4b", "p1"}));
}

TEST_F(QueueTest, HighPriorityOvertakesWaitingMessagesWhenWindowOpens) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(1));
  q->enqueue(msg("first", 4));   // delivered at once
  q->enqueue(msg("low", 0));
  q->enqueue(msg("high", 9));
  settle_one(*q, a, "first", SettleAction::kAck);
  settle_one(*q, a, "high", SettleAction::kAck);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"first", "high", "low"}));
}

// --- Memory and bounds ------------------------------------------------------

TEST_F(QueueTest, MemoryCountsWaitingAndHeldMessages) {
  auto q = make_queue();
  auto m1 = msg("hello");
  auto m2 = msg("world!");
  q->enqueue(m1);
  EXPECT_EQ(host.memory, static_cast<std::int64_t>(m1->footprint()));
  q->enqueue(m2);
  const auto both = static_cast<std::int64_t>(m1->footprint() + m2->footprint());
  EXPECT_EQ(host.memory, both);
  q->add_consumer(a, AckMode::kClient, window(10));
  EXPECT_EQ(host.memory, both) << "held (unacked) messages still cost memory";
  settle_one(*q, a, "hello", SettleAction::kAck);
  EXPECT_EQ(host.memory, static_cast<std::int64_t>(m2->footprint()));
  settle_one(*q, a, "world!", SettleAction::kAck);
  EXPECT_EQ(host.memory, 0);
}

TEST_F(QueueTest, MemoryReturnsToZeroAfterMixedSettling) {
  auto q = make_queue({.max_deliveries = 2});
  q->add_consumer(a, AckMode::kClient, window(3));
  q->add_consumer(b, AckMode::kAuto, window(2));
  q->enqueue(msg("e", 4, host.now + 1));
  for (int i = 0; i < 12; ++i) q->enqueue(msg(std::to_string(i)));
  // Work the queue until nothing is left.
  for (int round = 0; round < 100 && (q->depth() > 0 || q->unacked() > 0); ++round) {
    host.now += 1;
    q->expire(host.now);
    auto seqs = host.seqs_for(a);
    if (round % 3 == 0) settle(*q, a, seqs, SettleAction::kRequeue);
    else if (round % 3 == 1) settle(*q, a, seqs, SettleAction::kDeadLetter);
    else settle(*q, a, seqs, SettleAction::kAck);
    q->credit(b, 2, 1000);
  }
  EXPECT_EQ(q->depth(), 0u);
  EXPECT_EQ(q->unacked(), 0u);
  EXPECT_EQ(host.memory, 0);
}

TEST_F(QueueTest, DestroyingTheQueueReleasesItsMemory) {
  {
    auto q = make_queue();
    q->add_consumer(a, AckMode::kClient, window(2));
    publish(*q, {"held1", "held2", "waiting1", "waiting2"});
    settle_one(*q, a, "held1", SettleAction::kRelease);
    EXPECT_GT(host.memory, 0);
  }
  EXPECT_EQ(host.memory, 0);
}

TEST_F(QueueTest, FullAtMaxReady) {
  auto q = make_queue({.max_ready = 2});
  EXPECT_FALSE(q->full());
  publish(*q, {"1"});
  EXPECT_FALSE(q->full());
  publish(*q, {"2"});
  EXPECT_TRUE(q->full());
  // Held messages do not count: only the ones waiting do.
  q->add_consumer(a, AckMode::kClient, window(1));
  EXPECT_FALSE(q->full());
  EXPECT_EQ(q->depth(), 1u);
}

TEST_F(QueueTest, UnboundedQueueIsNeverFull) {
  auto q = make_queue();
  for (int i = 0; i < 1000; ++i) q->enqueue(msg("x"));
  EXPECT_FALSE(q->full());
}

TEST_F(QueueTest, SpaceFreedWhenWaitingMessagesLeave) {
  auto q = make_queue();
  publish(*q, {"1", "2"});
  const int before = host.space_freed_calls;
  q->add_consumer(a, AckMode::kClient, window(1));
  EXPECT_GT(host.space_freed_calls, before);
}

TEST_F(QueueTest, NameIsCanonical) {
  Destination d{DestinationKind::kQueue, "jobs", "/"};
  Queue q(d, {}, host);
  EXPECT_EQ(q.name(), "/queue/jobs");
  EXPECT_EQ(q.destination(), d);
}

// --- Two-phase settlement (an ACK whose record must be durable first) ------

TEST_F(QueueTest, SettlingAckFreesTheWindowButKeepsTheMessageUntilDurable) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClientIndividual, window(1));
  publish(*q, {"1", "2"});
  ASSERT_EQ(host.bodies_for(a), (Bodies{"1"}));
  const DeliverySeq seq = host.last().delivery.seq;
  const MessageId id = host.last().delivery.message->id;
  ASSERT_NE(q->begin_settle(a, seq), nullptr);
  EXPECT_EQ(q->begin_settle(a, seq), nullptr) << "already settling";
  // The window no longer counts it: "2" goes out while the record is written.
  q->credit(a, 0, 0);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2"}));
  EXPECT_EQ(q->unacked(), 2u);
  EXPECT_EQ(q->settling_count(), 1u);
  q->finish_settle(a, seq, id, SettleAction::kAck, true);
  EXPECT_EQ(q->unacked(), 1u);
  EXPECT_EQ(q->settling_count(), 0u);
  EXPECT_EQ(host.settled_calls, 1);
  EXPECT_EQ(host.removed_calls, 0) << "its ack record is already written";
  EXPECT_EQ(q->counters().acked, 1u);
}

TEST_F(QueueTest, FailedAckLeavesTheMessageHeldAsIfItNeverArrived) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClientIndividual, window(1));
  publish(*q, {"1", "2"});
  const DeliverySeq seq = host.last().delivery.seq;
  const MessageId id = host.last().delivery.message->id;
  ASSERT_NE(q->begin_settle(a, seq), nullptr);
  q->finish_settle(a, seq, id, SettleAction::kAck, false);
  EXPECT_EQ(q->settling_count(), 0u);
  EXPECT_EQ(host.settled_calls, 0);
  EXPECT_EQ(q->counters().acked, 0u);
  // Still held, counting toward the window again: a NACK returns it.
  settle(*q, a, {seq}, SettleAction::kRequeue);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2"}));
  q->remove_consumer(a);
  q->add_consumer(b, AckMode::kClientIndividual, window(10));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"1", "2"})) << "nothing was lost";
}

TEST_F(QueueTest, FailedAckOfATransactionReleasedDeliveryKeepsItReleased) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClientIndividual, window(1));
  publish(*q, {"1", "2", "3"});
  const DeliverySeq seq = host.last().delivery.seq;
  const MessageId id = host.last().delivery.message->id;
  settle(*q, a, {seq}, SettleAction::kRelease);  // ACK inside a transaction
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2"}));
  ASSERT_NE(q->begin_settle(a, seq), nullptr);   // COMMIT
  q->finish_settle(a, seq, id, SettleAction::kAck, false);
  q->credit(a, 0, 0);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2"})) << "the window holds \"2\" only";
}

TEST_F(QueueTest, ConsumerLeavingDuringASettleDoesNotGetTheMessageRedeliveredEarly) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClientIndividual, window(5));
  publish(*q, {"1", "2"});
  const auto seqs = host.seqs_for(a);
  const MessageId id1 = host.delivered[0].delivery.message->id;
  const MessageId id2 = host.delivered[1].delivery.message->id;
  ASSERT_NE(q->begin_settle(a, seqs[0]), nullptr);
  ASSERT_NE(q->begin_settle(a, seqs[1]), nullptr);
  q->remove_consumer(a);
  EXPECT_FALSE(q->idle()) << "settling deliveries are kept aside";
  q->add_consumer(b, AckMode::kClientIndividual, window(5));
  EXPECT_TRUE(host.bodies_for(b).empty()) << "not redelivered while their ACK is written";
  q->finish_settle(a, seqs[0], id1, SettleAction::kAck, true);   // durable: gone
  q->finish_settle(a, seqs[1], id2, SettleAction::kAck, false);  // failed: back to the queue
  EXPECT_EQ(host.bodies_for(b), (Bodies{"2"}));
  EXPECT_EQ(host.settled_calls, 1);
  EXPECT_EQ(q->settling_count(), 0u);
}

TEST_F(QueueTest, SettleIgnoresDeliveriesBeingSettled) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClientIndividual, window(5));
  publish(*q, {"1"});
  const DeliverySeq seq = host.last().delivery.seq;
  const MessageId id = host.last().delivery.message->id;
  ASSERT_NE(q->begin_settle(a, seq), nullptr);
  settle(*q, a, {seq}, SettleAction::kRequeue);  // e.g. an ABORT racing the ACK
  EXPECT_EQ(q->depth(), 0u);
  q->finish_settle(a, seq, id, SettleAction::kAck, true);
  EXPECT_EQ(q->unacked(), 0u);
  EXPECT_EQ(q->counters().acked, 1u);
}

TEST_F(QueueTest, DurableDeadLetterMoveLeavesTheQueueWithoutAnotherRecord) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClientIndividual, window(5));
  publish(*q, {"1"});
  const DeliverySeq seq = host.last().delivery.seq;
  const MessageId id = host.last().delivery.message->id;
  ASSERT_NE(q->begin_settle(a, seq), nullptr);
  q->finish_settle(a, seq, id, SettleAction::kDeadLetter, true);
  EXPECT_EQ(q->unacked(), 0u);
  EXPECT_EQ(q->counters().dead_lettered, 1u);
  EXPECT_TRUE(host.dead_letters.empty()) << "the caller journaled and enqueues the copy";
  EXPECT_EQ(host.memory, 0);
}

// An idle queue should cost well under 1 KB (issue 18 item 9): 100,000
// queues took 735 MB when each held ten empty std::deques and two rate
// windows (1,488 bytes of object plus ~6.5 KB of deque maps and chunks).
// bench/footprint measures the heap side; this keeps the object small.
// --- Selectors ----------------------------------------------------------------

SelectorRef sel(std::string_view text) {
  auto r = selector::Selector::parse(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? r.value() : nullptr;
}

// A message with `type: <type>` (and body `body`).
MessageRef typed(std::string body, std::string type, std::uint8_t priority = 4, std::int64_t expires_ms = 0) {
  MessageRef m = msg(std::move(body), priority, expires_ms);
  m.writable().headers.emplace_back("type", std::move(type));
  return m;
}

TEST_F(QueueTest, SelectiveConsumerIsNotStalledByAnUnselectedHead) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(10), sel("type = 'x'"));
  q->enqueue(typed("y1", "y"));
  q->enqueue(typed("x1", "x"));
  q->enqueue(typed("y2", "y"));
  q->enqueue(typed("x2", "x"));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"x1", "x2"}));
  EXPECT_EQ(q->depth(), 2u);  // the y's wait
}

TEST_F(QueueTest, EachMessageGoesToTheConsumerThatSelectsIt) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(10), sel("type = 'a'"));
  q->add_consumer(b, AckMode::kClient, window(10), sel("type = 'b'"));
  for (int i = 0; i < 3; ++i) {
    q->enqueue(typed("b" + std::to_string(i), "b"));
    q->enqueue(typed("a" + std::to_string(i), "a"));
  }
  EXPECT_EQ(host.bodies_for(a), (Bodies{"a0", "a1", "a2"}));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"b0", "b1", "b2"}));
  EXPECT_EQ(q->depth(), 0u);
}

TEST_F(QueueTest, BacklogWaitingBeforeSelectiveConsumersArriveIsSplitByThem) {
  auto q = make_queue();
  for (int i = 0; i < 4; ++i) {
    q->enqueue(typed("a" + std::to_string(i), "a"));
    q->enqueue(typed("b" + std::to_string(i), "b"));
  }
  q->add_consumer(b, AckMode::kClient, window(10), sel("type = 'b'"));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"b0", "b1", "b2", "b3"}));
  q->add_consumer(a, AckMode::kClient, window(10), sel("type = 'a'"));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"a0", "a1", "a2", "a3"}));
}

TEST_F(QueueTest, UnselectedMessagesStayForALaterPlainConsumerInOrder) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(10), sel("type = 'x'"));
  q->enqueue(typed("y1", "y"));
  q->enqueue(typed("x1", "x"));
  q->enqueue(msg("untyped"));  // type IS NULL: unknown, not selected
  q->enqueue(typed("y2", "y"));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"x1"}));
  q->add_consumer(c, AckMode::kClient, window(10));
  EXPECT_EQ(host.bodies_for(c), (Bodies{"y1", "untyped", "y2"}));
  EXPECT_EQ(q->depth(), 0u);
}

TEST_F(QueueTest, PlainAndSelectiveConsumersShareRoundRobin) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(10), sel("type = 'x'"));
  q->add_consumer(c, AckMode::kClient, window(10));
  for (int i = 0; i < 4; ++i) q->enqueue(typed("x" + std::to_string(i), "x"));
  q->enqueue(typed("y", "y"));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"x0", "x2"}));
  EXPECT_EQ(host.bodies_for(c), (Bodies{"x1", "x3", "y"}));
}

TEST_F(QueueTest, SelectiveConsumerWithAFullWindowLeavesItsMessagesForLater) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(1), sel("type = 'x'"));
  q->enqueue(typed("x1", "x"));
  q->enqueue(typed("y", "y"));
  q->enqueue(typed("x2", "x"));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"x1"}));
  settle_one(*q, a, "x1", SettleAction::kAck);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"x1", "x2"}));
  EXPECT_EQ(q->depth(), 1u);
}

TEST_F(QueueTest, AutoAckSelectiveConsumerGetsMoreAfterCredit) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kAuto, window(1), sel("type = 'x'"));
  q->enqueue(typed("y", "y"));
  q->enqueue(typed("x1", "x"));
  q->enqueue(typed("x2", "x"));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"x1"}));
  q->credit(a, 1, 2);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"x1", "x2"}));
}

TEST_F(QueueTest, NewSelectedMessageBehindAnUnselectedBacklogIsDelivered) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(100), sel("type = 'x'"));
  for (int i = 0; i < 50; ++i) q->enqueue(typed("y" + std::to_string(i), "y"));
  q->enqueue(typed("x1", "x"));
  q->enqueue(typed("y-late", "y"));
  q->enqueue(typed("x2", "x"));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"x1", "x2"}));
  // Every waiting message is still there for a consumer that takes it.
  q->add_consumer(b, AckMode::kClient, window(100), sel("type = 'y'"));
  EXPECT_EQ(host.bodies_for(b).size(), 51u);
  EXPECT_EQ(host.bodies_for(b).back(), "y-late");
}

TEST_F(QueueTest, SelectiveDispatchKeepsPriorityOrder) {
  auto q = make_queue();
  q->enqueue(typed("x-low", "x", 1));
  q->enqueue(typed("y-high", "y", 9));
  q->enqueue(typed("x-high", "x", 8));
  q->add_consumer(a, AckMode::kClient, window(10), sel("type = 'x'"));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"x-high", "x-low"}));
}

TEST_F(QueueTest, SelectorSeesThePriorityField) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(10), sel("JMSPriority > 4"));
  q->enqueue(msg("p4"));  // no priority header: JMSPriority is the default 4
  q->enqueue(msg("p7", 7));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"p7"}));
}

TEST_F(QueueTest, ReturnedMessageGoesToAnotherSelectingConsumerMarkedRedelivered) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(10), sel("type = 'x'"));
  q->enqueue(typed("y", "y"));
  q->enqueue(typed("x", "x"));
  ASSERT_EQ(host.bodies_for(a), (Bodies{"x"}));
  q->remove_consumer(a);
  q->add_consumer(b, AckMode::kClient, window(10), sel("type IN ('x', 'z')"));
  ASSERT_EQ(host.bodies_for(b), (Bodies{"x"}));
  EXPECT_EQ(host.last().delivery.earlier_deliveries, 1u);
  EXPECT_EQ(q->depth(), 1u);
}

TEST_F(QueueTest, RequeuedMessageIsOfferedAgainToTheSelectiveConsumer) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClientIndividual, window(10), sel("type = 'x'"));
  q->enqueue(typed("y", "y"));
  q->enqueue(typed("x", "x"));
  settle_one(*q, a, "x", SettleAction::kRequeue);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"x", "x"}));
}

TEST_F(QueueTest, ExpiredMessageBehindTheHeadIsDroppedBySelectiveDispatch) {
  auto q = make_queue();
  q->enqueue(typed("y", "y"));
  q->enqueue(typed("x-old", "x", 4, host.now + 10));
  q->enqueue(typed("x-new", "x"));
  host.now += 20;
  q->add_consumer(a, AckMode::kClient, window(10), sel("type = 'x'"));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"x-new"}));
  EXPECT_EQ(q->expired_count(), 1u);
  EXPECT_EQ(q->depth(), 1u);
}

TEST_F(QueueTest, LastSelectiveConsumerLeavingRestoresPlainDispatch) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(10), sel("type = 'x'"));
  q->enqueue(typed("y", "y"));
  q->remove_consumer(a);
  q->add_consumer(b, AckMode::kClient, window(10));
  q->enqueue(typed("z", "z"));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"y", "z"}));
}

// --- Exclusive consumers ----------------------------------------------------

ConsumerOptions exclusive() {
  ConsumerOptions o;
  o.exclusive = true;
  return o;
}

TEST_F(QueueTest, FirstExclusiveConsumerGetsEverything) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(10));  // plain: gets nothing while an exclusive one is there
  q->add_consumer(b, AckMode::kClient, window(10), exclusive());
  q->add_consumer(c, AckMode::kClient, window(10), exclusive());
  publish(*q, {"1", "2", "3", "4"});
  EXPECT_EQ(host.bodies_for(b), (Bodies{"1", "2", "3", "4"}));
  EXPECT_TRUE(host.bodies_for(a).empty());
  EXPECT_TRUE(host.bodies_for(c).empty());
}

TEST_F(QueueTest, ExclusiveConsumersTakeOverInSubscriptionOrder) {
  auto q = make_queue();
  const ConsumerKey d = consumer(4);
  q->add_consumer(a, AckMode::kClient, window(10), exclusive());
  q->add_consumer(c, AckMode::kClient, window(10), exclusive());
  q->add_consumer(b, AckMode::kClient, window(10), exclusive());
  q->add_consumer(d, AckMode::kClient, window(10));
  publish(*q, {"1", "2"});
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2"}));
  settle_one(*q, a, "1", SettleAction::kAck);
  q->remove_consumer(a);  // "2" unacknowledged: redelivered to the next exclusive one, c
  publish(*q, {"3"});
  EXPECT_EQ(host.bodies_for(c), (Bodies{"2", "3"}));
  q->remove_consumer(c);
  publish(*q, {"4"});
  EXPECT_EQ(host.bodies_for(b), (Bodies{"2", "3", "4"}));
  q->remove_consumer(b);  // no exclusive consumer left: the plain one gets them
  EXPECT_EQ(host.bodies_for(d), (Bodies{"2", "3", "4"}));
}

TEST_F(QueueTest, ExclusiveConsumerWithAFullWindowHoldsTheQueue) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(1), exclusive());
  q->add_consumer(b, AckMode::kClient, window(10));
  publish(*q, {"1", "2"});
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1"}));
  EXPECT_TRUE(host.bodies_for(b).empty()) << "a stand-by consumer receives nothing";
  settle_one(*q, a, "1", SettleAction::kAck);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2"}));
}

TEST_F(QueueTest, ExclusiveConsumerKeepsItsSelector) {
  auto q = make_queue();
  ConsumerOptions o = exclusive();
  o.selector = sel("type = 'x'");
  q->add_consumer(a, AckMode::kClient, window(10), o);
  q->add_consumer(b, AckMode::kClient, window(10));
  q->enqueue(typed("y1", "y"));
  q->enqueue(typed("x1", "x"));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"x1"}));
  EXPECT_TRUE(host.bodies_for(b).empty());
  EXPECT_EQ(q->depth(), 1u);
}

// --- Message groups ----------------------------------------------------------

MessageRef grouped(std::string body, std::string group, std::string header = "JMSXGroupID") {
  MessageRef m = msg(std::move(body));
  m.writable().headers.emplace_back(std::move(header), std::move(group));
  return m;
}

TEST_F(QueueTest, GroupSticksToOneConsumer) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(10));
  q->add_consumer(b, AckMode::kClient, window(10));
  for (int i = 0; i < 3; ++i) {
    q->enqueue(grouped("g1-" + std::to_string(i), "g1"));
    q->enqueue(grouped("g2-" + std::to_string(i), "g2", "group"));  // the neutral header
  }
  EXPECT_EQ(host.bodies_for(a), (Bodies{"g1-0", "g1-1", "g1-2"}));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"g2-0", "g2-1", "g2-2"}));
  EXPECT_EQ(q->group_count(), 2u);
}

TEST_F(QueueTest, GroupMovesWhenItsConsumerLeaves) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(10));
  q->add_consumer(b, AckMode::kClient, window(10));
  q->enqueue(grouped("1", "g"));
  q->enqueue(grouped("2", "g"));
  ASSERT_EQ(host.bodies_for(a), (Bodies{"1", "2"}));
  settle_one(*q, a, "1", SettleAction::kAck);
  q->remove_consumer(a);  // "2" comes back and, with the group, goes to b
  q->enqueue(grouped("3", "g"));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"2", "3"}));
  q->add_consumer(c, AckMode::kClient, window(10));
  q->enqueue(grouped("4", "g"));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"2", "3", "4"})) << "stays with b while b stays";
  EXPECT_TRUE(host.bodies_for(c).empty());
}

TEST_F(QueueTest, GroupSeqMinusOneClosesTheGroup) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(10));
  q->add_consumer(b, AckMode::kClient, window(10));
  q->enqueue(grouped("1", "g"));
  MessageRef last = grouped("2", "g");
  last.writable().headers.emplace_back("JMSXGroupSeq", "-1");
  q->enqueue(last);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2"}));
  EXPECT_EQ(q->group_count(), 0u);
  q->enqueue(grouped("3", "g"));  // a new group: the next consumer in turn
  EXPECT_EQ(host.bodies_for(b), (Bodies{"3"}));
}

TEST_F(QueueTest, GroupWhoseConsumerIsFullDoesNotStallOthers) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClient, window(1));
  q->add_consumer(b, AckMode::kClient, window(10));
  q->enqueue(grouped("g-1", "g"));  // to a; a is now full
  q->enqueue(grouped("g-2", "g"));  // waits for a
  q->enqueue(msg("plain"));
  q->enqueue(grouped("h-1", "h"));
  EXPECT_EQ(host.bodies_for(a), (Bodies{"g-1"}));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"plain", "h-1"}));
  EXPECT_EQ(q->depth(), 1u);
  settle_one(*q, a, "g-1", SettleAction::kAck);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"g-1", "g-2"}));
  EXPECT_EQ(q->depth(), 0u);
}

TEST_F(QueueTest, GroupTableIsBounded) {
  QueueSettings s;
  s.max_groups = 2;
  auto q = make_queue(s);
  q->add_consumer(a, AckMode::kAuto, window(100));
  q->add_consumer(b, AckMode::kAuto, window(100));
  q->enqueue(grouped("1", "g1"));  // a
  q->enqueue(grouped("2", "g2"));  // b
  q->enqueue(grouped("3", "g1"));  // a: g1 used last
  q->enqueue(grouped("4", "g3"));  // a (round-robin); g2, least recently used, is forgotten
  EXPECT_EQ(q->group_count(), 2u);
  q->enqueue(grouped("5", "g1"));  // still a
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "3", "4", "5"}));
  EXPECT_EQ(host.bodies_for(b), (Bodies{"2"}));
}

TEST_F(QueueTest, GroupAssignmentsCountTowardMemory) {
  {
    auto q = make_queue();
    q->add_consumer(a, AckMode::kAuto, window(100));
    q->enqueue(grouped("1", std::string(1000, 'g')));
    EXPECT_EQ(q->depth(), 0u);
    EXPECT_GE(host.memory, 2000) << "a group's name is held (twice) while it is assigned";
    q->remove_consumer(a);
    EXPECT_EQ(host.memory, 0);
    q->add_consumer(b, AckMode::kAuto, window(100));
    q->enqueue(grouped("2", "g"));
    EXPECT_GT(host.memory, 0);
  }
  EXPECT_EQ(host.memory, 0) << "the queue's destructor gives the rest back";
}

// --- RabbitMQ's queue arguments (queue_arguments.h) -------------------------

QueueArguments arguments(std::initializer_list<std::pair<std::string_view, std::string_view>> headers) {
  QueueArguments a;
  for (auto [name, value] : headers) EXPECT_TRUE(a.set(name, value).ok()) << name;
  return a;
}

TEST_F(QueueTest, MaxLengthDropsTheOldestWaitingMessages) {
  auto q = make_queue();
  q->set_arguments(arguments({{"x-max-length", "2"}}));
  publish(*q, {"1", "2", "3", "4"});
  EXPECT_EQ(q->depth(), 2u);
  EXPECT_EQ(q->discarded_count(), 2u);
  EXPECT_TRUE(host.dead_letters.empty()) << "no dead-letter exchange: dropped";
  q->add_consumer(a, AckMode::kClient, window(10));
  EXPECT_EQ(host.bodies(), (Bodies{"3", "4"}));
}

TEST_F(QueueTest, MaxLengthCountsOnlyWaitingMessages) {
  auto q = make_queue();
  q->set_arguments(arguments({{"x-max-length", "1"}}));
  q->add_consumer(a, AckMode::kClient, window(2));
  publish(*q, {"1", "2", "3", "4"});  // two held unacknowledged, one waits, one dropped
  EXPECT_EQ(host.bodies(), (Bodies{"1", "2"}));
  EXPECT_EQ(q->depth(), 1u);
  EXPECT_EQ(q->unacked(), 2u);
}

TEST_F(QueueTest, MaxLengthBytesCountsBodies) {
  auto q = make_queue();
  q->set_arguments(arguments({{"x-max-length-bytes", "5"}, {"x-dead-letter-exchange", ""}}));
  publish(*q, {"aa", "bb", "cc"});
  ASSERT_EQ(host.dead_letters.size(), 1u);
  EXPECT_EQ(host.dead_letters[0].message->body, "aa");
  EXPECT_EQ(host.dead_letters[0].reason, "maxlen");
  EXPECT_EQ(q->depth(), 2u);
}

TEST_F(QueueTest, RejectPublishLeavesTheQueueAloneAndReportsOverLimit) {
  auto q = make_queue();
  q->set_arguments(arguments({{"x-max-length", "2"}, {"x-overflow", "reject-publish"}}));
  EXPECT_FALSE(q->over_limit(1));
  publish(*q, {"1", "2"});
  EXPECT_TRUE(q->over_limit(1));
  EXPECT_FALSE(make_queue()->over_limit(1)) << "a queue without arguments is never full";
  q->note_admitting(1, true);
  q->note_admitting(1, false);
  EXPECT_EQ(q->admitting(), 0u);
}

TEST_F(QueueTest, ExpiredMessagesGoToTheDeadLetterExchangeWhenThereIsOne) {
  auto q = make_queue();
  q->set_arguments(arguments({{"x-dead-letter-exchange", ""}, {"x-dead-letter-routing-key", "dead"}}));
  q->enqueue(msg("late", 4, host.now + 10));
  q->enqueue(msg("fresh", 4, host.now + 1000));
  host.now += 20;
  q->expire(host.now);
  ASSERT_EQ(host.dead_letters.size(), 1u);
  EXPECT_EQ(host.dead_letters[0].reason, "expired");
  EXPECT_EQ(q->expired_count(), 1u);
  // Without one, expired messages are dropped (as before).
  auto plain = make_queue();
  plain->enqueue(msg("late", 4, host.now + 10));
  host.now += 20;
  plain->expire(host.now);
  EXPECT_EQ(host.dead_letters.size(), 1u);
  EXPECT_EQ(plain->expired_count(), 1u);
}

TEST_F(QueueTest, ADeadLetterQueueWithItsOwnExchangeDeadLettersToo) {
  auto q = make_queue({.max_deliveries = 2, .is_dead_letter_queue = true});
  EXPECT_TRUE(q->discards_dead_letters());
  q->set_arguments(arguments({{"x-dead-letter-exchange", ""}, {"x-dead-letter-routing-key", "further"}}));
  EXPECT_FALSE(q->discards_dead_letters());
  q->add_consumer(a, AckMode::kClientIndividual, window(10));
  publish(*q, {"x"});
  settle(*q, a, host.seqs_for(a), SettleAction::kDeadLetter);
  ASSERT_EQ(host.dead_letters.size(), 1u);
  EXPECT_EQ(host.dead_letters[0].reason, "rejected");
}

TEST_F(QueueTest, SingleActiveConsumerStandsByAndTakesOver) {
  auto q = make_queue();
  q->set_arguments(arguments({{"x-single-active-consumer", "true"}}));
  q->add_consumer(a, AckMode::kClientIndividual, window(10));
  q->add_consumer(b, AckMode::kClientIndividual, window(10));
  publish(*q, {"1", "2"});
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2"}));
  EXPECT_TRUE(host.bodies_for(b).empty());
  q->remove_consumer(a);  // b takes over, with what a held
  EXPECT_EQ(host.bodies_for(b), (Bodies{"1", "2"}));
}

TEST_F(QueueTest, ArgumentsCostNothingUntilGiven) {
  auto q = make_queue();
  EXPECT_TRUE(q->arguments().empty());
  q->set_arguments({});
  EXPECT_TRUE(q->arguments().empty());
  EXPECT_EQ(q->last_used_ms(), 0);
  q->set_arguments(arguments({{"x-expires", "1000"}}));
  EXPECT_EQ(q->last_used_ms(), host.now);
  host.now += 5;
  q->add_consumer(a, AckMode::kAuto, window(1));
  EXPECT_EQ(q->last_used_ms(), host.now) << "a consumer coming is a use (x-expires)";
}

TEST(QueueFootprintTest, IdleQueueObjectIsSmall) {
  EXPECT_LE(sizeof(Queue), 512u);
}

// --- Management ------------------------------------------------------------

TEST_F(QueueTest, ConsumerStatsDescribeEachConsumerInSubscriptionOrder) {
  auto q = make_queue();
  publish(*q, {"1", "2", "3"});
  q->add_consumer(a, AckMode::kClientIndividual, window(2));
  q->add_consumer(b, AckMode::kAuto, window(7));
  ConsumerOptions o;
  o.exclusive = true;
  q->add_consumer(c, AckMode::kClient, window(5), o);
  const auto stats = q->consumer_stats();
  ASSERT_EQ(stats.size(), 3u);
  EXPECT_EQ(stats[0].key, a);
  EXPECT_EQ(stats[0].mode, AckMode::kClientIndividual);
  EXPECT_EQ(stats[0].prefetch, 2u);
  EXPECT_EQ(stats[0].unacked, 2u);  // a window of 2 took the first two
  EXPECT_FALSE(stats[0].active);    // standing by behind the exclusive consumer
  EXPECT_EQ(stats[1].key, b);
  EXPECT_EQ(stats[1].mode, AckMode::kAuto);
  EXPECT_EQ(stats[1].prefetch, 7u);
  EXPECT_EQ(stats[1].unacked, 0u);  // auto-ack holds nothing
  EXPECT_EQ(stats[2].key, c);
  EXPECT_TRUE(stats[2].exclusive);
  EXPECT_TRUE(stats[2].active);
  q->remove_consumer(b);
  EXPECT_EQ(q->consumer_stats().size(), 2u);
}

}  // namespace
}  // namespace ferry::broker

namespace ferry::broker {
namespace {

// --- x-redelivery-delay (ActiveMQ's redeliveryPolicy) -----------------------

TEST_F(QueueTest, RedeliveryDelayHoldsAGivenBackMessageWithExponentialBackoff) {
  auto q = make_queue();
  q->set_arguments(arguments({{"x-redelivery-delay", "1000"},
                              {"x-redelivery-backoff-multiplier", "3"},
                              {"x-max-redelivery-delay", "5000"}}));
  q->add_consumer(a, AckMode::kClientIndividual, window(1));
  publish(*q, {"1", "2"});
  ASSERT_EQ(host.bodies_for(a), (Bodies{"1"}));
  settle_one(*q, a, "1", SettleAction::kRequeue);
  // "1" waits; "2" is not held behind it.
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2"}));
  settle_one(*q, a, "2", SettleAction::kAck);
  EXPECT_EQ(q->scheduled_count(), 1u);
  host.now += 999;
  q->expire(host.now);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "2"})) << "not before the delay";
  host.now += 1;
  q->expire(host.now);
  ASSERT_EQ(host.bodies_for(a), (Bodies{"1", "2", "1"}));
  EXPECT_EQ(host.last().delivery.earlier_deliveries, 1u);
  // The second redelivery waits 3 times as long; the consumer leaving is a
  // redelivery too.
  q->remove_consumer(a);
  q->add_consumer(b, AckMode::kClientIndividual, window(1));
  host.now += 2999;
  q->expire(host.now);
  EXPECT_TRUE(host.bodies_for(b).empty());
  host.now += 1;
  q->expire(host.now);
  ASSERT_EQ(host.bodies_for(b), (Bodies{"1"}));
  // The third: 9000 ms, capped at 5000.
  settle_one(*q, b, "1", SettleAction::kRequeue);
  host.now += 4999;
  q->expire(host.now);
  EXPECT_EQ(host.bodies_for(b), (Bodies{"1"}));
  host.now += 1;
  q->expire(host.now);
  EXPECT_EQ(host.bodies_for(b), (Bodies{"1", "1"}));
  EXPECT_EQ(q->scheduled_count(), 0u);
}

TEST_F(QueueTest, WithoutARedeliveryDelayAGivenBackMessageComesBackAtOnce) {
  auto q = make_queue();
  q->set_arguments(arguments({{"x-redelivery-delay", "0"}}));
  q->add_consumer(a, AckMode::kClientIndividual, window(1));
  publish(*q, {"1"});
  settle_one(*q, a, "1", SettleAction::kRequeue);
  EXPECT_EQ(host.bodies_for(a), (Bodies{"1", "1"}));
}

TEST(QueueArgumentsRedelivery, DelayAfterEachDelivery) {
  QueueArguments a;
  EXPECT_EQ(a.redelivery_delay_after(1), 0u);
  ASSERT_TRUE(a.set("x-redelivery-delay", "100").ok());
  EXPECT_EQ(a.redelivery_delay_after(1), 100u);
  EXPECT_EQ(a.redelivery_delay_after(5), 100u) << "no multiplier: no backoff";
  ASSERT_TRUE(a.set("x-redelivery-backoff-multiplier", "2").ok());
  EXPECT_EQ(a.redelivery_delay_after(1), 100u);
  EXPECT_EQ(a.redelivery_delay_after(2), 200u);
  EXPECT_EQ(a.redelivery_delay_after(4), 800u);
  EXPECT_EQ(a.redelivery_delay_after(4000000000u), QueueArguments::kMaxNumber) << "saturates";
  ASSERT_TRUE(a.set("x-max-redelivery-delay", "500").ok());
  EXPECT_EQ(a.redelivery_delay_after(4), 500u);
  EXPECT_FALSE(a.set("x-redelivery-backoff-multiplier", "0").ok());
  EXPECT_FALSE(a.set("x-redelivery-backoff-multiplier", "1.5").ok());
}

}  // namespace
}  // namespace ferry::broker
