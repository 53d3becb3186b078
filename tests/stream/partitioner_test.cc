#include "stream/partitioner.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry::stream {
namespace {

// Kafka's own expected values (clients UtilsTest.testMurmur2): the same key
// bytes give the same hash, so the same partition for the same count.
TEST(StreamPartitioner, Murmur2MatchesKafka) {
  EXPECT_EQ(murmur2("21"), -973932308);
  EXPECT_EQ(murmur2("foobar"), -790332482);
  EXPECT_EQ(murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(murmur2("abc"), 479470107);
}

// Pinned: a change of hash would move keys between partitions and break
// order per key across an upgrade.
TEST(StreamPartitioner, KeyToPartitionIsStable) {
  EXPECT_EQ(murmur2("order-42"), 501153024);
  EXPECT_EQ(murmur2(""), 275646681);
  EXPECT_EQ(murmur2(std::string("\xff\x00\x01", 3)), 1734372855);
  EXPECT_EQ(partition_for_key("order-42", 6), 0u);
  EXPECT_EQ(partition_for_key("order-42", 10), 4u);
  EXPECT_EQ(partition_for_key("customer-7", 6), 1u);  // a negative hash: sign bit dropped, as Kafka
  EXPECT_EQ(partition_for_key("", 6), 3u);
  EXPECT_EQ(partition_for_key("user-1", 10), 8u);
  EXPECT_EQ(partition_for_key("user-2", 10), 6u);
  EXPECT_EQ(partition_for_key("hello", 10), 9u);
  EXPECT_EQ(partition_for_key("anything", 1), 0u);
  for (int i = 0; i < 1000; ++i) {
    const std::string k = "key-" + std::to_string(i);
    EXPECT_LT(partition_for_key(k, 7), 7u);
    EXPECT_EQ(partition_for_key(k, 7), partition_for_key(k, 7));
  }
}

TEST(StreamPartitioner, KeysSpreadOverPartitions) {
  std::vector<int> count(4);
  for (int i = 0; i < 4000; ++i) ++count[partition_for_key("key-" + std::to_string(i), 4)];
  for (int c : count) EXPECT_GT(c, 800);  // roughly a quarter each
}

TEST(StreamPartitioner, StickyRoundRobinFillsOnePartitionAtATime) {
  StickyPartitioner p(3, 2);
  std::vector<std::uint32_t> got;
  for (int i = 0; i < 7; ++i) got.push_back(p.next());
  EXPECT_EQ(got, (std::vector<std::uint32_t>{0, 0, 1, 1, 2, 2, 0}));
  p.end_batch();  // a batch was sent: the next entry starts on the next partition
  EXPECT_EQ(p.next(), 1u);
  p.end_batch();
  p.end_batch();  // nothing sent since: stays
  EXPECT_EQ(p.next(), 2u);
  StickyPartitioner q(4, 10, 6);  // producers start apart
  EXPECT_EQ(q.next(), 2u);
}

}  // namespace
}  // namespace ferry::stream
