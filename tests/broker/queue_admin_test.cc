// Queue's management surface: counters, browse, purge, take_waiting.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "broker/queue.h"

namespace ferry::broker {
namespace {

class CountingHost : public QueueHost {
 public:
  void deliver(const ConsumerKey&, Delivery d) override { delivered.push_back(std::move(d)); }
  void removed(const Queue&, const QueueEntry&) override { ++removed_calls; }
  void returned(const Queue&, const QueueEntry&) override {}
  void dead_letter(const Queue&, const QueueEntry&, std::string_view) override { ++dead_letters; }
  void memory_changed(std::int64_t delta) override { memory += delta; }
  void space_freed(Queue&) override {}
  std::int64_t now_ms() const override { return now; }
  MessageCounters* totals() override { return &shard_totals; }

  std::vector<Delivery> delivered;
  int removed_calls = 0;
  int dead_letters = 0;
  std::int64_t memory = 0;
  std::int64_t now = 1'000'000;
  MessageCounters shard_totals;
};

MessageRef msg(std::string body, std::int64_t expires_ms = 0) {
  static std::uint64_t next_id = 0;
  MessageRef ref = make_message();
  Message* m = &ref.writable();
  m->id = MessageId(++next_id);
  m->body = std::move(body);
  m->expires_ms = expires_ms;
  return ref;
}

Queue make_queue(QueueHost& host, std::uint32_t max_deliveries = 0) {
  Destination d;
  d.name = "work";
  d.vhost = "/";
  QueueSettings s;
  s.max_deliveries = max_deliveries;
  return Queue(d, s, host);
}

const ConsumerKey kA{ShardId(0), ConnectionId(1), SubscriptionNo(1)};

TEST(QueueAdmin, CountsEveryStepInQueueAndShardTotals) {
  CountingHost host;
  Queue q = make_queue(host, 2);
  for (const char* b : {"1", "2", "3"}) q.enqueue(msg(b));
  q.enqueue(msg("old", host.now - 1));  // expires at dispatch
  q.add_consumer(kA, AckMode::kClientIndividual, Window{10, 0});
  ASSERT_EQ(host.delivered.size(), 3u);
  q.settle(kA, std::vector<DeliverySeq>{host.delivered[0].seq}, SettleAction::kAck);
  q.settle(kA, std::vector<DeliverySeq>{host.delivered[1].seq}, SettleAction::kRequeue);  // comes back
  ASSERT_EQ(host.delivered.size(), 4u);
  q.settle(kA, std::vector<DeliverySeq>{host.delivered[3].seq}, SettleAction::kRequeue);  // 2nd: dead letter
  const MessageCounters& c = q.counters();
  EXPECT_EQ(c.enqueued, 4u);
  EXPECT_EQ(c.dequeued, 4u);
  EXPECT_EQ(c.acked, 1u);
  EXPECT_EQ(c.redelivered, 1u);
  EXPECT_EQ(c.expired, 1u);
  EXPECT_EQ(c.dead_lettered, 1u);
  EXPECT_EQ(host.dead_letters, 1);
  EXPECT_EQ(host.shard_totals.enqueued, 4u);
  EXPECT_EQ(host.shard_totals.dead_lettered, 1u);
}

TEST(QueueAdmin, BrowseShowsWaitingInDeliveryOrderWithoutTakingThem) {
  CountingHost host;
  Queue q = make_queue(host);
  for (const char* b : {"1", "2", "3"}) q.enqueue(msg(b));
  std::vector<std::string> seen;
  q.browse(2, [&](const QueueEntry& e) { seen.push_back(e.message->body); });
  EXPECT_EQ(seen, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(q.depth(), 3u);
}

TEST(QueueAdmin, PurgeRemovesWaitingOnlyAndTakeWaitingUncharges) {
  CountingHost host;
  Queue q = make_queue(host);
  for (const char* b : {"1", "2", "3", "4", "5"}) q.enqueue(msg(b));
  q.add_consumer(kA, AckMode::kClientIndividual, Window{1, 0});
  ASSERT_EQ(host.delivered.size(), 1u);
  auto taken = q.take_waiting(2);
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0].message->body, "2");
  EXPECT_EQ(host.removed_calls, 0);  // the caller journals the move
  const std::int64_t before = host.memory;
  EXPECT_EQ(q.purge(), 2u);
  EXPECT_EQ(host.removed_calls, 2);
  EXPECT_LT(host.memory, before);
  EXPECT_EQ(q.depth(), 0u);
  EXPECT_EQ(q.unacked(), 1u);  // the held one stays with its consumer
  q.remove_consumer(kA);
  EXPECT_EQ(q.depth(), 1u);
}

}  // namespace
}  // namespace ferry::broker
