// A stream's own arguments (broker/stream_arguments.h, docs/streams.md
// "Per-stream arguments"); the wire behaviour is
// tests/integration/test_stream_arguments.py.
#include "broker/stream_arguments.h"

#include <gtest/gtest.h>

namespace ferry::broker {
namespace {

StreamArguments args(std::initializer_list<std::pair<std::string_view, std::string_view>> items) {
  StreamArguments a;
  for (const auto& [k, v] : items) {
    Status st = a.set(k, v);
    EXPECT_TRUE(st.ok()) << k << "=" << v << ": " << (st.ok() ? "" : st.error().text());
  }
  return a;
}

TEST(StreamArgumentsTest, ParsesRabbitMqNamesAndValues) {
  auto a = args({{"x-max-age", "7D"}, {"x-max-length-bytes", "20000000000"},
                 {"x-stream-max-segment-size-bytes", "4096"}});
  EXPECT_EQ(a.max_age, "7D");
  EXPECT_EQ(a.max_age_ms, 7LL * 24 * 3600 * 1000);
  EXPECT_EQ(a.max_length_bytes, 20000000000u);
  EXPECT_EQ(a.max_segment_bytes, 4096u);
  EXPECT_TRUE(StreamArguments::is_argument("x-max-age"));
  EXPECT_FALSE(StreamArguments::is_argument("x-max-length"));  // a queue's, not a stream's
  EXPECT_TRUE(StreamArguments{}.empty());
}

TEST(StreamArgumentsTest, CleanupPolicyInRabbitMqAndKafkaSpelling) {
  auto a = args({{"x-cleanup-policy", "compact"}, {"x-delete-retention-ms", "0"}});
  EXPECT_TRUE(a.compacted());
  EXPECT_FALSE(a.retained());  // compact alone: no retention, as Kafka
  EXPECT_EQ(a.delete_retention_ms, 0u);
  auto k = args({{"cleanup.policy", "delete,compact"}, {"delete.retention.ms", "60000"}});
  EXPECT_EQ(k.cleanup_policy, "compact,delete");
  EXPECT_TRUE(k.compacted());
  EXPECT_TRUE(k.retained());
  EXPECT_TRUE(StreamArguments::is_argument("cleanup.policy"));  // not stored with the entry
  EXPECT_FALSE(args({{"x-cleanup-policy", "delete"}}).compacted());
  EXPECT_TRUE(StreamArguments{}.retained());
  // Kept as the x- names; a Kafka spelling compares equal to them.
  EXPECT_EQ(k.encode(), "ferry-stream-arguments 1\nx-cleanup-policy compact,delete\nx-delete-retention-ms 60000\n");
  auto back = StreamArguments::decode(k.encode());
  ASSERT_TRUE(back.ok()) << back.error().text();
  EXPECT_EQ(*back, k);
  const Destination d{DestinationKind::kStream, "s", "/"};
  EXPECT_FALSE(StreamArguments::mismatch(args({{"cleanup.policy", "compact,delete"}}), k, d));
  auto differs = StreamArguments::mismatch(args({{"cleanup.policy", "compact"}}), k, d);
  ASSERT_TRUE(differs);
  EXPECT_NE(differs->find("inequivalent arg 'x-cleanup-policy'"), std::string::npos) << *differs;
  for (const char* bad : {"compacted", "", "compact,compact", "Delete"}) {
    StreamArguments b;
    EXPECT_FALSE(b.set("x-cleanup-policy", bad).ok()) << bad;
  }
  StreamArguments b;
  EXPECT_FALSE(b.set("x-delete-retention-ms", "-1").ok());
}

TEST(StreamArgumentsTest, RefusesBadValues) {
  for (const auto& [k, v] : std::vector<std::pair<std::string_view, std::string_view>>{
           {"x-max-age", "7d"}, {"x-max-age", ""}, {"x-max-length-bytes", "0"}, {"x-max-length-bytes", "1e6"},
           {"x-max-length-bytes", "-1"}, {"x-stream-max-segment-size-bytes", "4095"},
           {"x-stream-max-segment-size-bytes", "2147483649"}, {"x-other", "1"}}) {
    StreamArguments a;
    Status st = a.set(k, v);
    ASSERT_FALSE(st.ok()) << k << "=" << v;
    EXPECT_EQ(st.error().message, "invalid stream argument");
    EXPECT_TRUE(a.empty()) << k;
  }
}

TEST(StreamArgumentsTest, FileRoundTripAndCorruption) {
  auto a = args({{"x-max-age", "12h"}, {"x-stream-max-segment-size-bytes", "8192"}});
  EXPECT_EQ(a.encode(), "ferry-stream-arguments 1\nx-max-age 12h\nx-stream-max-segment-size-bytes 8192\n");
  auto back = StreamArguments::decode(a.encode());
  ASSERT_TRUE(back.ok()) << back.error().text();
  EXPECT_EQ(*back, a);
  for (const char* bad : {"", "ferry-stream-arguments 2\n", "ferry-stream-arguments 1\nx-max-age 12h",
                          "ferry-stream-arguments 1\nx-max-age\n", "ferry-stream-arguments 1\nx-max-length 5\n",
                          "ferry-stream-arguments 1\nx-max-age 12h\nx-max-age 1h\n",
                          "ferry-stream-arguments 1\nx-max-length-bytes 0\n"}) {
    auto r = StreamArguments::decode(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().message, "corrupt stream arguments") << bad;
    }
  }
}

TEST(StreamArgumentsTest, PartitionCount) {
  EXPECT_EQ(StreamArguments{}.partition_count(), 1u);
  auto a = args({{"x-stream-partitions", "6"}});
  EXPECT_EQ(a.partition_count(), 6u);
  EXPECT_FALSE(a.empty());
  auto back = StreamArguments::decode(a.encode());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, a);
  EXPECT_EQ(a.encode(), "ferry-stream-arguments 1\nx-stream-partitions 6\n");
  for (std::string_view bad : {"0", "4097", "-1", "2x", ""}) {
    StreamArguments b;
    EXPECT_FALSE(b.set("x-stream-partitions", bad).ok()) << bad;
  }
  auto differs = StreamArguments::mismatch(args({{"x-stream-partitions", "4"}}), a,
                                           Destination{DestinationKind::kStream, "s", "/"});
  ASSERT_TRUE(differs.has_value());
  EXPECT_NE(differs->find("received '4' but current is '6'"), std::string::npos) << *differs;
}

TEST(StreamArgumentsTest, OnlyWhatTheFrameNamesIsChecked) {
  const Destination d{DestinationKind::kStream, "orders", "/"};
  const auto current = args({{"x-max-age", "7D"}, {"x-max-length-bytes", "1000"}});
  EXPECT_FALSE(StreamArguments::mismatch({}, current, d));
  EXPECT_FALSE(StreamArguments::mismatch(args({{"x-max-age", "168h"}}), current, d));  // the same age
  EXPECT_FALSE(StreamArguments::mismatch(args({{"x-max-length-bytes", "1000"}}), current, d));
  EXPECT_EQ(StreamArguments::mismatch(args({{"x-max-age", "1h"}}), current, d),
            "PRECONDITION_FAILED - inequivalent arg 'x-max-age' for stream 'orders' in vhost '/': received '1h' "
            "but current is '7D'");
  EXPECT_EQ(StreamArguments::mismatch(args({{"x-stream-max-segment-size-bytes", "4096"}}), current, d),
            "PRECONDITION_FAILED - inequivalent arg 'x-stream-max-segment-size-bytes' for stream 'orders' in "
            "vhost '/': received '4096' but current is none");
}

}  // namespace
}  // namespace ferry::broker
