#include "broker/durable_subscription.h"

#include <gtest/gtest.h>

#include "broker/client_ids.h"

namespace ferry::broker {
namespace {

DurableSubscription sub(std::string owner) {
  DurableSubscription s;
  s.vhost = "/";
  s.topic = "news";
  s.name = "app1:audit";
  s.owner = std::move(owner);
  return s;
}

TEST(DurableSubscriptionTest, RecordCarriesTheOwner) {
  const DurableSubscription s = sub("alice");
  auto back = decode_subscription(encode_subscription(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->vhost, "/");
  EXPECT_EQ(back->topic, "news");
  EXPECT_EQ(back->name, "app1:audit");
  EXPECT_EQ(back->owner, "alice");
  EXPECT_EQ(subscription_key_of(encode_subscription(s)), s.key());
}

TEST(DurableSubscriptionTest, NamesWithLineFeedsRoundTrip) {
  DurableSubscription s = sub("bob");
  s.name = "a\nb";
  s.topic = "t\nu";
  auto back = decode_subscription(encode_subscription(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->name, "a\nb");
  EXPECT_EQ(back->topic, "t\nu");
  EXPECT_EQ(back->owner, "bob");
}

TEST(DurableSubscriptionTest, OldTextRecordsLoadWithoutAnOwner) {
  // docs/journal.md, "Subscription records": written before owners existed.
  auto old = decode_subscription("shop\nnews\napp1:audit");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->vhost, "shop");
  EXPECT_EQ(old->topic, "news");
  EXPECT_EQ(old->name, "app1:audit");
  EXPECT_EQ(old->owner, "");
  // Its key is the one the new form of the same subscription has.
  DurableSubscription same = sub("carol");
  same.vhost = "shop";
  EXPECT_EQ(subscription_key_of("shop\nnews\napp1:audit"), same.key());
}

TEST(DurableSubscriptionTest, DamagedRecordsAreRefused) {
  const std::string good = encode_subscription(sub("alice"));
  for (std::size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(decode_subscription(good.substr(0, n))) << n;
  EXPECT_FALSE(decode_subscription(good + "x"));
  EXPECT_FALSE(decode_subscription("no separators"));
}

TEST(ClientIdsTest, OneConnectionPerClientIdAndVhost) {
  ClientIds ids;
  const ShardId s0(0), s1(1);
  EXPECT_FALSE(ids.claim("/", "app1", {s0, ConnectionId(1), "alice", "127.0.0.1:1"}));
  // The same connection again: still its own.
  EXPECT_FALSE(ids.claim("/", "app1", {s0, ConnectionId(1), "alice", "127.0.0.1:1"}));
  auto held = ids.claim("/", "app1", {s1, ConnectionId(1), "bob", "127.0.0.1:2"});
  ASSERT_TRUE(held);
  EXPECT_EQ(held->user, "alice");
  EXPECT_EQ(held->peer, "127.0.0.1:1");
  // Another vhost, another client-id: free.
  EXPECT_FALSE(ids.claim("shop", "app1", {s1, ConnectionId(1), "bob", "127.0.0.1:2"}));
  EXPECT_FALSE(ids.claim("/", "app2", {s1, ConnectionId(2), "bob", "127.0.0.1:2"}));
  // Only the holder releases it.
  ids.release("/", "app1", s1, ConnectionId(1));
  EXPECT_TRUE(ids.claim("/", "app1", {s1, ConnectionId(3), "bob", "127.0.0.1:3"}));
  ids.release("/", "app1", s0, ConnectionId(1));
  EXPECT_FALSE(ids.claim("/", "app1", {s1, ConnectionId(3), "bob", "127.0.0.1:3"}));
  EXPECT_EQ(ids.size(), 3u);
}

}  // namespace
}  // namespace ferry::broker
