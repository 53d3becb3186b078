// The paged tail of a Queue: messages whose only copy is "on disk" (here a
// map the host reads from), read back when consumers get to them.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker/queue.h"
#include "selector/selector.h"

namespace ferry::broker {
namespace {

class PagingHost : public QueueHost {
 public:
  // The "journal": position (segment, offset) -> message.
  std::map<std::pair<std::uint64_t, std::uint64_t>, MessageRef> disk;
  std::vector<std::string> delivered;
  std::vector<MessageId> removed_ids;
  std::size_t reads = 0;  // page_in calls
  std::size_t read_messages = 0;
  std::int64_t memory = 0;
  std::int64_t now = 1'000'000;

  void deliver(const ConsumerKey&, Delivery d) override { delivered.push_back(d.message->body); }
  void dead_letter(const Queue&, const QueueEntry&, std::string_view) override {}
  void removed(const Queue&, const QueueEntry& e) override { removed_ids.push_back(e.message->id); }
  void returned(const Queue&, const QueueEntry&) override {}
  void memory_changed(std::int64_t delta) override {
    memory += delta;
    EXPECT_GE(memory, 0);
  }
  void space_freed(Queue&) override {}
  std::int64_t now_ms() const override { return now; }

  std::size_t page_in_copy(const Queue& q, std::span<const PagedPosition> ps, std::uint64_t max_bytes,
                           std::vector<QueueEntry>& out) override {
    return page_in(q, ps, max_bytes, out);
  }
  std::size_t page_in(const Queue&, std::span<const PagedPosition> ps, std::uint64_t max_bytes,
                      std::vector<QueueEntry>& out) override {
    ++reads;
    std::uint64_t bytes = 0;
    std::size_t i = 0;
    for (; i < ps.size() && (i == 0 || bytes < max_bytes); ++i) {
      auto it = disk.find({ps[i].segment, ps[i].offset});
      if (it == disk.end()) continue;  // unreadable: consumed, no entry
      QueueEntry e;
      e.message = it->second;
      e.segment = ps[i].segment;
      e.deliveries = ps[i].deliveries;
      bytes += e.message->body.size();
      out.push_back(std::move(e));
      ++read_messages;
    }
    return i;
  }
};

MessageRef msg(std::string body, std::uint8_t priority = 4, std::int64_t expires_ms = 0) {
  static std::uint64_t next_id = 1000;
  MessageRef ref = make_message();
  Message* m = &ref.writable();
  m->id = MessageId(++next_id);
  m->body = std::move(body);
  m->priority = priority;
  m->expires_ms = expires_ms;
  m->persistent = true;
  return ref;
}

const ConsumerKey kA{ShardId(0), ConnectionId(1), SubscriptionNo(1)};

class QueuePagingTest : public ::testing::Test {
 protected:
  std::unique_ptr<Queue> make_queue() {
    Destination d;
    d.name = "work";
    d.vhost = "/";
    QueueSettings s;
    s.durable = true;
    return std::make_unique<Queue>(d, s, host);
  }
  // Puts `m` "on disk" and pages it into q.
  void page(Queue& q, const MessageRef& m) {
    const PagedPosition p{1, 24 + 100 * next_++, 0, 0};
    host.disk[{p.segment, p.offset}] = m;
    q.enqueue_paged(p);
  }
  PagingHost host;
  std::uint64_t next_ = 0;
};

using Bodies = std::vector<std::string>;

TEST_F(QueuePagingTest, PagedMessagesComeAfterThoseInMemoryInEnqueueOrder) {
  auto q = make_queue();
  q->enqueue(msg("m1"), 1);
  page(*q, msg("p1"));
  page(*q, msg("p2"));
  EXPECT_TRUE(q->paging());
  EXPECT_EQ(q->depth(), 3u);
  EXPECT_EQ(q->paged_count(), 2u);
  EXPECT_FALSE(q->idle());
  EXPECT_EQ(host.reads, 0u) << "nothing is read back without a consumer";
  q->add_consumer(kA, AckMode::kAuto, Window{100, 0});
  EXPECT_EQ(host.delivered, (Bodies{"m1", "p1", "p2"}));
  EXPECT_EQ(q->depth(), 0u);
  EXPECT_FALSE(q->paging());
}

TEST_F(QueuePagingTest, ReadsBackOnlyWhatConsumersCanTake) {
  auto q = make_queue();
  for (int i = 0; i < 2000; ++i) page(*q, msg("p" + std::to_string(i)));
  q->add_consumer(kA, AckMode::kClientIndividual, Window{10, 0});
  EXPECT_EQ(host.delivered.size(), 10u);
  EXPECT_EQ(host.reads, 1u);
  EXPECT_LE(host.read_messages, Queue::kPageInBatch) << "one batch, not the whole tail";
  EXPECT_EQ(q->paged_count(), 2000u - host.read_messages);
}

TEST_F(QueuePagingTest, PriorityDoesNotOvertakeWhatIsStillPaged) {
  auto q = make_queue();
  q->enqueue(msg("low-in-memory", 1), 1);
  page(*q, msg("high-paged", 9));
  q->add_consumer(kA, AckMode::kAuto, Window{100, 0});
  EXPECT_EQ(host.delivered, (Bodies{"low-in-memory", "high-paged"}));
}

TEST_F(QueuePagingTest, ExpiredPagedMessagesAreDroppedWhenReadBack) {
  auto q = make_queue();
  page(*q, msg("gone", 4, host.now - 1));
  page(*q, msg("kept", 4, host.now + 60'000));
  q->expire(host.now);  // the tail holds no expiry times: nothing happens here
  EXPECT_EQ(q->paged_count(), 2u);
  q->add_consumer(kA, AckMode::kAuto, Window{100, 0});
  EXPECT_EQ(host.delivered, (Bodies{"kept"}));
  EXPECT_EQ(q->expired_count(), 1u);
  EXPECT_EQ(host.removed_ids.size(), 2u) << "the expired one and the auto-acked one";
}

TEST_F(QueuePagingTest, AnUnreadablePositionIsSkipped) {
  auto q = make_queue();
  page(*q, msg("a"));
  q->enqueue_paged(PagedPosition{9, 9, 0, 0});  // nothing there
  page(*q, msg("b"));
  q->add_consumer(kA, AckMode::kAuto, Window{100, 0});
  EXPECT_EQ(host.delivered, (Bodies{"a", "b"}));
  EXPECT_EQ(q->depth(), 0u);
}

TEST_F(QueuePagingTest, PurgeRemovesPagedMessagesByIdAndReturnsTheirMemory) {
  auto q = make_queue();
  std::vector<MessageId> ids;
  q->enqueue(msg("m"), 1);
  for (int i = 0; i < 1000; ++i) {
    auto m = msg("p" + std::to_string(i));
    ids.push_back(m->id);
    page(*q, m);
  }
  EXPECT_GT(host.memory, 0);
  EXPECT_EQ(q->purge(), 1001u);
  EXPECT_EQ(q->depth(), 0u);
  EXPECT_TRUE(q->idle());
  ASSERT_EQ(host.removed_ids.size(), 1001u);
  EXPECT_TRUE(std::equal(ids.begin(), ids.end(), host.removed_ids.begin() + 1));
  EXPECT_EQ(host.memory, 0);
}

TEST_F(QueuePagingTest, APagedMessageCostsAFewBytes) {
  auto q = make_queue();
  for (int i = 0; i < 100000; ++i) q->enqueue_paged(PagedPosition{1 + i / 40000u, 24 + 1100ull * (i % 40000), 0, 0});
  EXPECT_LT(host.memory, 100000 * 5) << "bytes charged for 100,000 paged messages";
  q.reset();
  EXPECT_EQ(host.memory, 0) << "the queue gives its charge back when it goes";
}

TEST_F(QueuePagingTest, CompactionReadsTheFrontOfOneSegmentBack) {
  auto q = make_queue();
  page(*q, msg("s1-a"));
  page(*q, msg("s1-b"));
  const PagedPosition later{2, 24, 0, 0};
  host.disk[{2, 24}] = msg("s2");
  q->enqueue_paged(later);
  EXPECT_EQ(q->paged_in(1), 2u);
  EXPECT_EQ(q->page_in_front(1, 1 << 20), 2u);
  EXPECT_EQ(q->paged_in(1), 0u);
  EXPECT_EQ(q->paged_count(), 1u);
  std::vector<std::string> waiting;
  q->for_each_waiting([&](QueueEntry& e) { waiting.push_back(e.message->body); });
  EXPECT_EQ(waiting, (Bodies{"s1-a", "s1-b"}));
  q->add_consumer(kA, AckMode::kAuto, Window{100, 0});
  EXPECT_EQ(host.delivered, (Bodies{"s1-a", "s1-b", "s2"}));
}

TEST_F(QueuePagingTest, BrowseSeesPagedMessagesWithoutTakingThem) {
  auto q = make_queue();
  q->enqueue(msg("m0", 9), 1);
  for (int i = 0; i < 600; ++i) page(*q, msg("p" + std::to_string(i)));
  const std::int64_t memory = host.memory;
  std::vector<std::string> seen;
  EXPECT_EQ(q->browse(5, [&](const QueueEntry& e) { seen.push_back(e.message->body); }), 5u);
  EXPECT_EQ(seen, (Bodies{"m0", "p0", "p1", "p2", "p3"}));
  seen.clear();
  EXPECT_EQ(q->browse(10000, [&](const QueueEntry& e) { seen.push_back(e.message->body); }), 601u);
  ASSERT_EQ(seen.size(), 601u);
  EXPECT_EQ(seen[600], "p599");
  EXPECT_EQ(q->depth(), 601u);
  EXPECT_EQ(q->paged_count(), 600u);
  EXPECT_EQ(host.memory, memory) << "browsing keeps nothing in memory";
  q->add_consumer(kA, AckMode::kAuto, Window{1000, 0});
  EXPECT_EQ(host.delivered.size(), 601u);
  EXPECT_EQ(host.delivered[1], "p0");
}


// A selective consumer looks past what is in memory: the paged tail is read
// back (in batches) while nothing in memory is selected and it has room.
TEST_F(QueuePagingTest, SelectiveConsumerFindsItsMessageInThePagedTail) {
  auto q = make_queue();
  auto typed = [](std::string body, std::string type) {
    MessageRef m = msg(std::move(body));
    m.writable().headers = {{"type", std::move(type)}};
    return m;
  };
  q->enqueue(typed("y-memory", "y"), 1);
  for (int i = 0; i < 300; ++i) page(*q, typed("y" + std::to_string(i), "y"));
  page(*q, typed("x-paged", "x"));
  auto r = selector::Selector::parse("type = 'x'");
  ASSERT_TRUE(r.ok());
  q->add_consumer(kA, AckMode::kClient, Window{10, 0}, r.value());
  EXPECT_EQ(host.delivered, (Bodies{"x-paged"}));
  EXPECT_EQ(q->depth(), 301u);
}

// ...but not without bound: past kSelectorReadyLimit waiting in memory, the
// rest stays on disk until the front moves.
TEST_F(QueuePagingTest, SelectiveConsumerReadsBackAtMostTheSelectorLimit) {
  auto q = make_queue();
  for (std::size_t i = 0; i < Queue::kSelectorReadyLimit + 600; ++i) page(*q, msg("y"));
  page(*q, msg("x"));
  auto r = selector::Selector::parse("body_type = 'x'");
  ASSERT_TRUE(r.ok());
  q->add_consumer(kA, AckMode::kClient, Window{10, 0}, r.value());
  EXPECT_TRUE(host.delivered.empty());
  EXPECT_GE(q->paged_count(), 500u);
  EXPECT_EQ(q->depth(), Queue::kSelectorReadyLimit + 601);
}

}  // namespace
}  // namespace ferry::broker
