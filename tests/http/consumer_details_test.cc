#include "http/consumer_details.h"

#include <gtest/gtest.h>

namespace ferry::http {
namespace {

broker::Destination queue() {
  broker::Destination d;
  d.kind = broker::DestinationKind::kQueue;
  d.vhost = "/";
  d.name = "orders";
  return d;
}

broker::ConsumerStats consumer(std::uint64_t connection, std::uint32_t subscription, broker::AckMode mode) {
  broker::ConsumerStats c;
  c.key = broker::ConsumerKey{ShardId(1), ConnectionId(connection), SubscriptionNo(subscription)};
  c.mode = mode;
  c.prefetch = 10;
  return c;
}

net::ConnectionInfo connection(std::uint64_t id) {
  net::ConnectionInfo c;
  c.id = ConnectionId(id);
  c.client_address = "127.0.0.1:5000";
  c.server_address = "127.0.0.1:61613";
  c.user = "guest";
  // Two subscriptions to the same queue: told apart by number, not destination.
  net::SubscriptionInfo a;
  a.id = "first";
  a.destination = "/queue/orders";
  a.number = 1;
  net::SubscriptionInfo b = a;
  b.id = "second";
  b.number = 2;
  c.subscription_list = {a, b};
  return c;
}

TEST(ConsumerDetails, JoinsEachConsumerWithItsConnectionAndSubscription) {
  auto second = consumer(7, 2, broker::AckMode::kClientIndividual);
  second.unacked = 3;
  second.exclusive = true;
  Json j = consumer_details(queue(), {second, consumer(7, 1, broker::AckMode::kAuto)}, {connection(7)});
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["consumer_tag"], "second");
  EXPECT_EQ(j[0]["ack_required"], true);
  EXPECT_EQ(j[0]["ack"], "client-individual");
  EXPECT_EQ(j[0]["unacked"], 3);
  EXPECT_EQ(j[0]["exclusive"], true);
  EXPECT_EQ(j[0]["prefetch_count"], 10);
  EXPECT_EQ(j[0]["channel_details"]["connection_name"], "127.0.0.1:5000 -> 127.0.0.1:61613");
  EXPECT_EQ(j[0]["channel_details"]["name"], "127.0.0.1:5000 -> 127.0.0.1:61613 (1)");
  EXPECT_EQ(j[0]["channel_details"]["peer_host"], "127.0.0.1");
  EXPECT_EQ(j[0]["channel_details"]["peer_port"], 5000);
  EXPECT_EQ(j[0]["channel_details"]["user"], "guest");
  EXPECT_EQ(j[0]["queue"]["name"], "orders");
  EXPECT_EQ(j[0]["connection"], "7");
  EXPECT_EQ(j[1]["consumer_tag"], "first");
  EXPECT_EQ(j[1]["ack_required"], false);
  EXPECT_EQ(j[1]["ack"], "auto");
}

TEST(ConsumerDetails, AConsumerWithoutItsConnectionKeepsWhatTheQueueKnows) {
  auto c = consumer(9, 1, broker::AckMode::kClient);
  c.active = false;
  Json j = consumer_details(queue(), {c}, {connection(7)});
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["consumer_tag"], "");
  EXPECT_TRUE(j[0]["channel_details"].is_object());
  EXPECT_TRUE(j[0]["channel_details"].empty());
  EXPECT_EQ(j[0]["ack"], "client");
  EXPECT_EQ(j[0]["active"], false);
  EXPECT_EQ(j[0]["activity_status"], "waiting");
  EXPECT_EQ(j[0]["connection"], "9");
}

TEST(ConsumerDetails, NoConsumersIsAnEmptyArray) {
  Json j = consumer_details(queue(), {}, {connection(7)});
  EXPECT_TRUE(j.is_array());
  EXPECT_TRUE(j.empty());
}

}  // namespace
}  // namespace ferry::http
