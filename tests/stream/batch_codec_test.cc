#include "stream/batch_codec.h"

#include <gtest/gtest.h>

#include "store/crc32c.h"
#include "store/record_format.h"
#include "stream/stream_format.h"
#include "stream_test_util.h"

namespace ferry::stream {
namespace {

using testing::entry;

std::string sample_batch(StreamOffset base = StreamOffset{7}) {
  std::vector<StreamEntry> es = {
      entry("hello", "k1", 1000, {{"content-type", "text/plain"}, {"x", ""}}),
      entry(std::string("a\0b", 3)),
      entry("", std::string())};  // an empty key is a key
  std::string out;
  encode_batch(out, es, base, 5000, 0, 3);
  return out;
}

TEST(StreamBatch, RoundTrip) {
  const std::string b = sample_batch();
  BatchHeader h;
  std::string why;
  ASSERT_TRUE(check_batch(b, format::kMaxBatchBytesLimit, h, why)) << why;
  EXPECT_EQ(h.base.value, 7u);
  EXPECT_EQ(h.count, 3u);
  EXPECT_EQ(h.size, b.size());
  EXPECT_EQ(h.first_timestamp, 1000);
  EXPECT_EQ(h.last_timestamp, 5000);
  EXPECT_EQ(h.epoch, 3u);
  std::vector<EntryView> seen;
  std::vector<std::string> bodies;
  ASSERT_TRUE(for_each_entry(b, h, [&](const EntryView& e) {
    seen.push_back(e);
    return true;
  }));
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].offset.value, 7u);
  EXPECT_EQ(seen[2].offset.value, 9u);
  ASSERT_TRUE(seen[0].key.has_value());
  EXPECT_EQ(*seen[0].key, "k1");
  ASSERT_EQ(seen[0].headers.size(), 2u);
  EXPECT_EQ(seen[0].headers[0].first, "content-type");
  EXPECT_EQ(seen[0].headers[0].second, "text/plain");
  EXPECT_EQ(seen[0].headers[1].second, "");
  EXPECT_EQ(seen[0].body, "hello");
  EXPECT_FALSE(seen[1].key.has_value());
  EXPECT_EQ(seen[1].body, std::string("a\0b", 3));
  ASSERT_TRUE(seen[2].key.has_value());
  EXPECT_EQ(*seen[2].key, "");
  EXPECT_EQ(seen[1].timestamp_ms, 5000);  // 0 = now
}

TEST(StreamBatch, TimestampsNeverDecrease) {
  std::vector<StreamEntry> es = {entry("a", {}, 100), entry("b", {}, 50), entry("c", {}, 0), entry("d", {}, 10)};
  std::string out;
  // A floor from the partition's last entry lifts the first one too.
  EXPECT_EQ(encode_batch(out, es, StreamOffset{0}, 200, 120), 200);
  BatchHeader h;
  std::string why;
  ASSERT_TRUE(check_batch(out, format::kMaxBatchBytesLimit, h, why)) << why;
  std::vector<std::int64_t> ts;
  (void)for_each_entry(out, h, [&](const EntryView& e) {
    ts.push_back(e.timestamp_ms);
    return true;
  });
  EXPECT_EQ(ts, (std::vector<std::int64_t>{120, 120, 200, 200}));
}

TEST(StreamBatch, EveryFlippedBitIsCaught) {
  const std::string good = sample_batch();
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string b = good;
      b[i] = static_cast<char>(b[i] ^ (1 << bit));
      BatchHeader h;
      std::string why;
      EXPECT_FALSE(check_batch(b, format::kMaxBatchBytesLimit, h, why)) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(StreamBatch, EveryPrefixIsShort) {
  const std::string good = sample_batch();
  for (std::size_t n = 0; n < good.size(); ++n) {
    BatchHeader h;
    std::string why;
    EXPECT_FALSE(check_batch(std::span<const char>(good.data(), n), format::kMaxBatchBytesLimit, h, why)) << n;
    EXPECT_NE(why.find("short"), std::string::npos) << n << ": " << why;
  }
}

// Re-seals a forged batch so that only the field under test is wrong.
void reseal(std::string& b) { store::format::put_u32(b.data() + 4, batch_crc(b)); }

TEST(StreamBatch, ForgedBatchesWithAValidCrcAreRefused) {
  BatchHeader h;
  std::string why;
  {
    std::string b = sample_batch();
    store::format::put_u32(b.data() + 20, 1);  // compression: not written by anything yet
    reseal(b);
    EXPECT_FALSE(check_batch(b, format::kMaxBatchBytesLimit, h, why));
    EXPECT_NE(why.find("attributes"), std::string::npos) << why;
  }
  {
    std::string b = sample_batch();
    store::format::put_u32(b.data() + 44, 1);  // reserved
    reseal(b);
    EXPECT_FALSE(check_batch(b, format::kMaxBatchBytesLimit, h, why));
    EXPECT_NE(why.find("reserved"), std::string::npos) << why;
  }
  {
    std::string b = sample_batch();
    store::format::put_u32(b.data() + 16, 2);  // count says 2, there are 3
    reseal(b);
    EXPECT_FALSE(check_batch(b, format::kMaxBatchBytesLimit, h, why));
  }
  {
    std::string b = sample_batch();
    store::format::put_u64(b.data() + 32, 4999);  // last timestamp disagrees
    reseal(b);
    EXPECT_FALSE(check_batch(b, format::kMaxBatchBytesLimit, h, why));
  }
  {
    std::string b = sample_batch();
    // The first entry's key length runs past the entry.
    store::format::put_u32(b.data() + format::kBatchHeaderBytes + 13, 1000);
    reseal(b);
    EXPECT_FALSE(check_batch(b, format::kMaxBatchBytesLimit, h, why));
  }
  {
    std::string b = sample_batch();
    EXPECT_FALSE(check_batch(b, static_cast<std::uint32_t>(b.size() - 1), h, why));  // over the limit
  }
}

}  // namespace
}  // namespace ferry::stream
