#include "broker/destination.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry::broker {
namespace {

TEST(DestinationTest, ParsesQueue) {
  auto d = parse_destination("/queue/orders", "/");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->kind, DestinationKind::kQueue);
  EXPECT_EQ(d->name, "orders");
  EXPECT_EQ(d->vhost, "/");
  EXPECT_EQ(d->to_string(), "/queue/orders");
}

TEST(DestinationTest, ParsesTopic) {
  auto d = parse_destination("/topic/prices", "vh1");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->kind, DestinationKind::kTopic);
  EXPECT_EQ(d->name, "prices");
  EXPECT_EQ(d->vhost, "vh1");
  EXPECT_EQ(d->to_string(), "/topic/prices");
}

TEST(DestinationTest, AmqQueueIsAnAliasOfQueue) {
  auto amq = parse_destination("/amq/queue/orders", "/");
  auto plain = parse_destination("/queue/orders", "/");
  ASSERT_TRUE(amq.has_value());
  EXPECT_EQ(amq->kind, DestinationKind::kQueue);
  EXPECT_EQ(amq->name, "orders");
  EXPECT_EQ(amq->to_string(), "/queue/orders");
  EXPECT_EQ(*amq, *plain);
}

TEST(DestinationTest, NameKeepsEverythingAfterThePrefix) {
  auto d = parse_destination("/queue/a/b.c-d", "/");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->name, "a/b.c-d");
  EXPECT_EQ(d->to_string(), "/queue/a/b.c-d");
}

TEST(DestinationTest, VhostDistinguishesOtherwiseEqualDestinations) {
  EXPECT_NE(*parse_destination("/queue/x", "a"), *parse_destination("/queue/x", "b"));
  EXPECT_NE(*parse_destination("/queue/x", "a"), *parse_destination("/topic/x", "a"));
}

TEST(DestinationTest, RejectsUnknownForms) {
  for (const char* bad : {"", "/queue/", "/topic/", "/amq/queue/", "/queue", "/topic", "foo",
                          "queue/x", "/exchange/x", "/temp-queue/x", "/Queue/x", "/amq/topic/x",
                          " /queue/x"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parse_destination(bad, "/").has_value());
  }
}

}  // namespace
}  // namespace ferry::broker
