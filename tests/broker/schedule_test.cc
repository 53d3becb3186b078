// Scheduled delivery (broker/schedule.h): the headers users know, the due
// times they give, and a queue holding a message back until it is due.
#include "broker/schedule.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "broker/message_codec.h"
#include "broker/queue.h"

namespace ferry::broker {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

TEST(ScheduleOf, NoSchedulingHeadersIsNoSchedule) {
  auto s = schedule_of(Headers{{"destination", "/queue/a"}, {"priority", "4"}}, 100);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->has_value());
}

TEST(ScheduleOf, ActiveMqDelayPeriodRepeat) {
  auto s = schedule_of(Headers{{"AMQ_SCHEDULED_DELAY", "1000"}, {"AMQ_SCHEDULED_PERIOD", "500"},
                               {"AMQ_SCHEDULED_REPEAT", "2"}},
                       100);
  ASSERT_TRUE(s && s->has_value());
  const Schedule& v = **s;
  EXPECT_EQ(v.copies(), 3u);
  EXPECT_EQ(v.due(10'000, 0), 11'000);
  EXPECT_EQ(v.due(10'000, 1), 11'500);
  EXPECT_EQ(v.due(10'000, 2), 12'000);
}

TEST(ScheduleOf, RabbitMqDelayNeutralDelayAndDeliverAt) {
  auto x = schedule_of(Headers{{"x-delay", "250"}}, 100);
  ASSERT_TRUE(x && x->has_value());
  EXPECT_EQ((*x)->due(1000, 0), 1250);
  auto d = schedule_of(Headers{{"delay", "10"}}, 100);
  ASSERT_TRUE(d && d->has_value());
  EXPECT_EQ((*d)->due(1000, 0), 1010);
  // deliver-at in the past: due at once (now).
  auto at = schedule_of(Headers{{"deliver-at", "5000"}}, 100);
  ASSERT_TRUE(at && at->has_value());
  EXPECT_EQ((*at)->due(1000, 0), 5000);
  EXPECT_EQ((*at)->due(9000, 0), 9000);
}

TEST(ScheduleOf, RefusesWhatItCannotHonour) {
  for (const auto& [name, value] : Headers{{"AMQ_SCHEDULED_DELAY", "-5"},
                                           {"AMQ_SCHEDULED_DELAY", "soon"},
                                           {"x-delay", "1.5"},
                                           {"AMQ_SCHEDULED_PERIOD", ""},
                                           {"AMQ_SCHEDULED_REPEAT", "-1"},
                                           {"AMQ_SCHEDULED_CRON", "* * * * *"}}) {
    auto s = schedule_of(Headers{{name, value}}, 100);
    ASSERT_FALSE(s) << name << ":" << value;
    EXPECT_NE(s.error().text().find(name), std::string::npos) << s.error().text();
  }
  // More repetitions than max-scheduled-messages could ever hold.
  auto s = schedule_of(Headers{{"AMQ_SCHEDULED_DELAY", "1"}, {"AMQ_SCHEDULED_REPEAT", "100"}}, 100);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().text().find("max-scheduled-messages"), std::string::npos);
}

MessageRef msg(std::string body, std::uint64_t id) {
  MessageRef ref = make_message();
  Message& m = ref.writable();
  m.id = MessageId(id);
  m.id_text = "m-" + std::to_string(id);
  m.destination = "/queue/work";
  m.body = std::move(body);
  return ref;
}

TEST(ApplySchedule, StampsTheDueTimeAndMakesEachRepetitionItsOwnMessage) {
  MessageRef m = msg("tick", 1);
  Schedule s;
  s.delay_ms = 100;
  s.period_ms = 50;
  s.repeat = 2;
  std::uint64_t next = 100;
  auto repeats = apply_schedule(s, m.writable(), 1000, [&] { return MessageId(next++); });
  EXPECT_EQ(m->deliver_at_ms, 1100);
  ASSERT_NE(m->header(kDeliverAtHeader), nullptr);
  EXPECT_EQ(*m->header(kDeliverAtHeader), "1100");
  ASSERT_EQ(repeats.size(), 2u);
  EXPECT_EQ(repeats[0]->deliver_at_ms, 1150);
  EXPECT_EQ(repeats[1]->deliver_at_ms, 1200);
  EXPECT_EQ(*repeats[1]->header(kDeliverAtHeader), "1200");
  EXPECT_EQ(repeats[0]->id, MessageId(100));
  EXPECT_EQ(repeats[0]->id_text, "m-1-1");
  EXPECT_EQ(repeats[1]->body, "tick");
}

TEST(ScheduleJournal, TheDueTimeSurvivesTheJournalRecord) {
  MessageRef m = msg("later", 7);
  stamp_due(m.writable(), 123456789);
  auto rec = decode_message_record(encode_message_record("q", *m, 0, 1));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->message.deliver_at_ms, 123456789);
  auto plain = decode_message_record(encode_message_record("q", *msg("now", 8), 0, 2));
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->message.deliver_at_ms, 0);
}

class Host : public QueueHost {
 public:
  void deliver(const ConsumerKey&, Delivery d) override { delivered.push_back(d.message->body); }
  void removed(const Queue&, const QueueEntry&) override { ++removed_calls; }
  void returned(const Queue&, const QueueEntry&) override {}
  void dead_letter(const Queue&, const QueueEntry&, std::string_view) override {}
  void memory_changed(std::int64_t delta) override { memory += delta; }
  void space_freed(Queue&) override {}
  void scheduled_changed(std::int64_t delta) override { scheduled += delta; }
  std::int64_t now_ms() const override { return now; }

  std::vector<std::string> delivered;
  int removed_calls = 0;
  std::int64_t memory = 0;
  std::int64_t scheduled = 0;
  std::int64_t now = 1'000'000;
};

class ScheduledQueueTest : public ::testing::Test {
 protected:
  std::unique_ptr<Queue> make_queue() {
    Destination d;
    d.kind = DestinationKind::kQueue;
    d.name = "work";
    d.vhost = "/";
    return std::make_unique<Queue>(d, QueueSettings{}, host);
  }
  MessageRef due_in(std::string body, std::int64_t ms) {
    MessageRef m = msg(std::move(body), ++ids);
    stamp_due(m.writable(), host.now + ms);
    return m;
  }
  Host host;
  std::uint64_t ids = 0;
  const ConsumerKey a{ShardId(0), ConnectionId(1), SubscriptionNo(1)};
};

TEST_F(ScheduledQueueTest, AMessageIsHeldUntilDueThenDeliveredInDueOrder) {
  auto q = make_queue();
  q->add_consumer(a, AckMode::kClientIndividual, Window{10, 0});
  q->enqueue(due_in("second", 2000));
  q->enqueue(due_in("first", 1000));
  q->enqueue(msg("now", ++ids));
  EXPECT_EQ(host.delivered, (std::vector<std::string>{"now"}));
  EXPECT_EQ(q->scheduled_count(), 2u);
  EXPECT_EQ(host.scheduled, 2);
  EXPECT_EQ(q->depth(), 0u) << "scheduled messages are not waiting ones";
  host.now += 999;
  q->expire(host.now);
  EXPECT_EQ(host.delivered.size(), 1u) << "not due yet";
  host.now += 1;
  q->expire(host.now);
  EXPECT_EQ(host.delivered, (std::vector<std::string>{"now", "first"}));
  host.now += 5000;
  q->expire(host.now);
  EXPECT_EQ(host.delivered, (std::vector<std::string>{"now", "first", "second"}));
  EXPECT_EQ(q->scheduled_count(), 0u);
  EXPECT_EQ(host.scheduled, 0);
}

TEST_F(ScheduledQueueTest, AQueueHoldingScheduledMessagesIsNotIdle) {
  auto q = make_queue();
  q->enqueue(due_in("later", 60'000));
  EXPECT_FALSE(q->idle()) << "a queue holding a scheduled message holds something";
  EXPECT_GT(host.memory, 0);
}

TEST_F(ScheduledQueueTest, PurgeAndDestructionReleaseScheduledMessages) {
  auto q = make_queue();
  q->enqueue(due_in("a", 60'000));
  q->enqueue(due_in("b", 60'000));
  EXPECT_EQ(q->purge(), 2u);
  EXPECT_EQ(host.removed_calls, 2) << "each gets its ack record";
  EXPECT_EQ(host.scheduled, 0);
  EXPECT_EQ(host.memory, 0);
  q->enqueue(due_in("c", 60'000));
  q.reset();
  EXPECT_EQ(host.scheduled, 0);
  EXPECT_EQ(host.memory, 0);
}

TEST_F(ScheduledQueueTest, CompactionAndSettlementFindScheduledEntries) {
  auto q = make_queue();
  MessageRef m = due_in("later", 60'000);
  const MessageId id = m->id;
  q->enqueue(std::move(m), 3);
  ASSERT_NE(q->find_entry(id), nullptr);
  std::size_t seen = 0;
  q->for_each_waiting([&](QueueEntry& e) { seen += e.segment == 3 ? 1 : 0; });
  EXPECT_EQ(seen, 1u);
}

}  // namespace
}  // namespace ferry::broker
