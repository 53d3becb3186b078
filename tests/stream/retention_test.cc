#include "stream/retention.h"

#include <gtest/gtest.h>

#include "stream/offset_spec.h"
#include "stream/segment_file.h"
#include "stream_test_util.h"

namespace ferry::stream {
namespace {

using testing::entry;

constexpr std::int64_t kS = 1000, kMin = 60 * kS, kH = 60 * kMin, kDay = 24 * kH;

TEST(StreamRetention, ParsesRabbitMqMaxAge) {
  const std::pair<const char*, std::int64_t> ok[] = {
      {"7D", 7 * kDay}, {"12h", 12 * kH}, {"30m", 30 * kMin}, {"10s", 10 * kS},
      {"1Y", 365 * kDay}, {"1M", 30 * kDay}, {"0010s", 10 * kS}};
  for (const auto& [text, ms] : ok) {
    auto r = parse_max_age(text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.error().text();
    EXPECT_EQ(*r, ms) << text;
  }
  for (const char* bad : {"", "7", "D", "0D", "7d", "7 D", "-1D", "1.5h", "7DD", "99999999999999999999s",
                          "1000000Y", "h1"}) {
    auto r = parse_max_age(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().message, "invalid x-max-age") << bad;
    }
  }
}

TEST(StreamRetention, ParsesStreamOffsets) {
  const std::int64_t now = 1'700'000'000'000;
  EXPECT_EQ(parse_offset_spec("first", now)->kind, OffsetSpec::Kind::kFirst);
  EXPECT_EQ(parse_offset_spec("last", now)->kind, OffsetSpec::Kind::kLast);
  EXPECT_EQ(parse_offset_spec("next", now)->kind, OffsetSpec::Kind::kNext);
  auto n = parse_offset_spec("12345", now);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->kind, OffsetSpec::Kind::kOffset);
  EXPECT_EQ(n->value, 12345u);
  auto t = parse_offset_spec("timestamp=1700000000", now);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->kind, OffsetSpec::Kind::kTimestamp);
  EXPECT_EQ(t->value, 1'700'000'000'000u);
  auto i = parse_offset_spec("1h", now);
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->kind, OffsetSpec::Kind::kTimestamp);
  EXPECT_EQ(i->value, static_cast<std::uint64_t>(now - kH));
  for (const char* bad : {"", "First", "-1", "timestamp=", "timestamp=x", "timestamp=99999999999999999999",
                          "1.5", "18446744073709551616", "7x"}) {
    auto r = parse_offset_spec(bad, now);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().message, "invalid x-stream-offset") << bad;
    }
  }
}

class StreamRetentionLog : public testing::StreamTest {};

// 100-byte bodies, segments of about 4 batches.
PartitionOptions small_segments(PartitionOptions o) {
  o.max_segment_bytes = 700;
  o.index_interval_bytes = 1;
  return o;
}

TEST_F(StreamRetentionLog, BySizeDeletesWholeOldestSegmentsOnly) {
  PartitionOptions o = small_segments(options());
  auto log = open_log(o);
  for (int i = 0; i < 40; ++i) commit(*log, {entry(std::string(100, 'a' + i % 26))});
  const std::uint64_t segments = log->segment_count();
  ASSERT_GE(segments, 8u);
  const std::uint64_t total = log->disk_bytes();
  auto none = log->apply_retention(now_);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->segments_deleted, 0u);  // no limit set

  o.retention.max_bytes = total / 2;
  log.reset();
  log = open_log(o);
  auto r = log->apply_retention(now_);
  ASSERT_TRUE(r.ok()) << r.error().text();
  EXPECT_GT(r->segments_deleted, 0u);
  EXPECT_LE(log->disk_bytes(), o.retention.max_bytes);
  EXPECT_GT(log->disk_bytes() + 700, o.retention.max_bytes);  // no more than needed
  EXPECT_EQ(log->segment_count(), segments - r->segments_deleted);
  EXPECT_EQ(log->first_offset(), r->first);
  EXPECT_EQ(files(".log").size(), log->segment_count());
  EXPECT_EQ(files(".log").front(), segment_file_name(r->first, SegmentFileKind::kLog));
  // What is left reads from the new first offset to the end, contiguously.
  const auto seen = read_all(*log, OffsetSpec::first());
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().offset, r->first.value);
  EXPECT_EQ(seen.back().offset, 39u);
  EXPECT_EQ(seen.size(), 40 - r->first.value);

  // Down to nothing but the active segment, never below it.
  PartitionOptions tiny = o;
  tiny.retention.max_bytes = 1;
  log.reset();
  log = open_log(tiny);
  ASSERT_TRUE(log->apply_retention(now_).ok());
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_EQ(log->end_offset().value, 40u);
  EXPECT_FALSE(read_all(*log, OffsetSpec::first()).empty());
}

TEST_F(StreamRetentionLog, ByAgeUsesEachSegmentsNewestEntry) {
  PartitionOptions o = small_segments(options());
  o.retention.max_age_ms = kH;
  auto log = open_log(o);
  const std::int64_t start = now_;
  for (int i = 0; i < 40; ++i) {
    now_ = start + i * kMin;  // one entry a minute
    commit(*log, {entry(std::string(100, 'x'))});
  }
  // 40 minutes of entries, kept for an hour: nothing goes.
  auto r = log->apply_retention(now_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->segments_deleted, 0u);
  // 30 minutes later, entries from before start+10min are over an hour old.
  r = log->apply_retention(start + 70 * kMin);
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->segments_deleted, 0u);
  const auto seen = read_all(*log, OffsetSpec::first());
  ASSERT_FALSE(seen.empty());
  // Every segment left has an entry younger than the limit, and nothing
  // younger than the limit was deleted.
  EXPECT_LE(seen.front().ts, start + 10 * kMin);
  EXPECT_GE(seen.front().offset, 1u);
  // Much later: everything but the active segment.
  r = log->apply_retention(start + 1000 * kDay);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_EQ(log->end_offset().value, 40u);
}

TEST_F(StreamRetentionLog, TheLastBatchIsKeptEvenBehindAnEmptyActiveSegment) {
  PartitionOptions o = small_segments(options());
  auto log = open_log(o);
  for (int i = 0; i < 30; ++i) commit(*log, {entry(std::string(100, 'l'))});
  log.reset();
  // A crash right after a roll: the new segment has no batch.
  const auto logs = files(".log");
  std::filesystem::resize_file(seg_path(logs.back()), 0);
  o.retention.max_bytes = 1;
  log = open_log(o);
  ASSERT_TRUE(log->apply_retention(now_).ok());
  EXPECT_EQ(log->segment_count(), 2u);  // the empty active one and the one with the last batch
  const auto last = read_all(*log, OffsetSpec::last());
  ASSERT_FALSE(last.empty());
  EXPECT_EQ(last.back().offset, log->end_offset().value - 1);
}

TEST_F(StreamRetentionLog, AReaderInADeletedSegmentMovesToTheNewFirstOffset) {
  PartitionOptions o = small_segments(options());
  auto log = open_log(o);
  for (int i = 0; i < 30; ++i) commit(*log, {entry(std::string(100, 'r'))});
  auto reader = StreamReader::open(*log, OffsetSpec::offset(StreamOffset{1}));
  ASSERT_TRUE(reader.ok());
  auto first = reader->read(1 << 20, 1);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->from.value, 1u);
  PartitionOptions limited = o;
  limited.retention.max_bytes = 1400;
  // Retention through a log with the limit set, on the same files: reopen.
  const ReaderPosition kept = reader->position();
  log.reset();
  log = open_log(limited);
  ASSERT_TRUE(log->apply_retention(now_).ok());
  ASSERT_GT(log->first_offset().value, 2u);
  ReaderPosition pos = kept;
  auto r = log->read(pos, 1 << 20, 1);
  ASSERT_TRUE(r.ok()) << r.error().text();
  EXPECT_TRUE(r->repositioned);
  EXPECT_EQ(r->from, log->first_offset());
  EXPECT_EQ(r->entries(), 1u);
}

}  // namespace
}  // namespace ferry::stream
