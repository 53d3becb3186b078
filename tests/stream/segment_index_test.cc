#include "stream/segment_index.h"

#include <gtest/gtest.h>

#include "stream/stream_format.h"

namespace ferry::stream {
namespace {

BatchHeader batch(std::uint64_t base, std::uint32_t count, std::int64_t first_ts, std::int64_t last_ts,
                  std::uint64_t size) {
  BatchHeader h;
  h.base = StreamOffset{base};
  h.count = count;
  h.first_timestamp = first_ts;
  h.last_timestamp = last_ts;
  h.size = size;
  return h;
}

// 10 batches of 5 entries, 60 bytes each, timestamps 100 per batch, in a
// segment based at 1000, with an index entry at least every 150 bytes.
SegmentIndex sample() {
  SegmentIndex idx(StreamOffset{1000}, 150);
  std::uint64_t pos = format::kSegmentHeaderBytes;
  for (int i = 0; i < 10; ++i) {
    idx.add_batch(batch(1000 + 5 * i, 5, 100 * i, 100 * i + 50, 60), pos);
    pos += 60;
  }
  return idx;
}

TEST(StreamIndex, IsSparse) {
  const SegmentIndex idx = sample();
  EXPECT_EQ(idx.offset_entries(), 4u);  // batches 0, 3, 6, 9
  EXPECT_EQ(idx.time_entries(), 4u);
  EXPECT_EQ(idx.next().value, 1050u);
  EXPECT_EQ(idx.last_batch_base().value, 1045u);
  EXPECT_EQ(idx.first_timestamp(), 0);
  EXPECT_EQ(idx.max_timestamp(), 950);
}

TEST(StreamIndex, OffsetLookupGivesTheNearestIndexedBatchAtOrBefore) {
  const SegmentIndex idx = sample();
  EXPECT_EQ(idx.lookup_offset(StreamOffset{0}).position, format::kSegmentHeaderBytes);
  EXPECT_EQ(idx.lookup_offset(StreamOffset{1000}).position, format::kSegmentHeaderBytes);
  EXPECT_EQ(idx.lookup_offset(StreamOffset{1014}).offset.value, 1000u);
  EXPECT_EQ(idx.lookup_offset(StreamOffset{1015}).offset.value, 1015u);
  EXPECT_EQ(idx.lookup_offset(StreamOffset{1015}).position, format::kSegmentHeaderBytes + 180);
  EXPECT_EQ(idx.lookup_offset(StreamOffset{1049}).offset.value, 1045u);
  EXPECT_EQ(idx.lookup_offset(StreamOffset{5000}).offset.value, 1045u);
}

TEST(StreamIndex, TimeLookupStartsBeforeEveryEntryThatRecent) {
  const SegmentIndex idx = sample();
  EXPECT_EQ(idx.lookup_time(0).offset.value, 1000u);     // nothing older indexed
  EXPECT_EQ(idx.lookup_time(300).offset.value, 1000u);   // batch 3 starts at 300: not before
  EXPECT_EQ(idx.lookup_time(301).offset.value, 1015u);
  EXPECT_EQ(idx.lookup_time(10000).offset.value, 1045u);
}

TEST(StreamIndex, FilesRoundTrip) {
  const SegmentIndex idx = sample();
  const std::uint64_t log_bytes = format::kSegmentHeaderBytes + 600;
  auto back = SegmentIndex::decode(idx.encode_offset_file(log_bytes), idx.encode_time_file(log_bytes),
                                   StreamOffset{1000}, log_bytes, 150);
  ASSERT_TRUE(back.ok()) << back.error().text();
  EXPECT_EQ(back->next(), idx.next());
  EXPECT_EQ(back->last_batch_base(), idx.last_batch_base());
  EXPECT_EQ(back->max_timestamp(), idx.max_timestamp());
  for (std::uint64_t o = 1000; o < 1050; ++o)
    EXPECT_EQ(back->lookup_offset(StreamOffset{o}).position, idx.lookup_offset(StreamOffset{o}).position);
  for (std::int64_t t = 0; t < 1000; t += 7)
    EXPECT_EQ(back->lookup_time(t).offset, idx.lookup_time(t).offset);
}

TEST(StreamIndex, BadOrStaleFilesAreRefused) {
  const SegmentIndex idx = sample();
  const std::uint64_t n = format::kSegmentHeaderBytes + 600;
  const std::string of = idx.encode_offset_file(n);
  const std::string tf = idx.encode_time_file(n);
  const StreamOffset base{1000};
  EXPECT_FALSE(SegmentIndex::decode(of, tf, base, n + 1, 150).ok());           // the segment changed
  EXPECT_FALSE(SegmentIndex::decode(of, tf, StreamOffset{999}, n, 150).ok());  // another segment's
  EXPECT_FALSE(SegmentIndex::decode(tf, of, base, n, 150).ok());               // swapped kinds
  EXPECT_FALSE(SegmentIndex::decode(of.substr(0, of.size() - 1), tf, base, n, 150).ok());
  EXPECT_FALSE(SegmentIndex::decode(of, "", base, n, 150).ok());
  for (std::size_t i = 0; i < of.size(); ++i) {
    std::string bad = of;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    EXPECT_FALSE(SegmentIndex::decode(bad, tf, base, n, 150).ok()) << i;
  }
  // An index of the other file of a different segment's summary.
  SegmentIndex other(base, 150);
  EXPECT_FALSE(SegmentIndex::decode(of, other.encode_time_file(n), base, n, 150).ok());
}

}  // namespace
}  // namespace ferry::stream
