// Opening a partition after a clean stop, a crash, a torn write, garbage,
// or lost index files (docs/streams.md "Recovery").

#include <gtest/gtest.h>

#include <fstream>

#include "store/fault_env.h"
#include "stream/partition_log.h"
#include "stream/segment_file.h"
#include "stream_test_util.h"

namespace ferry::stream {
namespace {

using testing::entry;
namespace fs = std::filesystem;

class StreamRecovery : public testing::StreamTest {
 protected:
  PartitionOptions rolled() {
    PartitionOptions o = options();
    o.max_segment_bytes = 800;
    o.index_interval_bytes = 100;
    return o;
  }
  // 60 entries in batches of 2, timestamps 1 s apart per batch.
  void fill(PartitionLog& log, int batches = 30) {
    for (int b = 0; b < batches; ++b)
      commit(log, {entry("b" + std::to_string(2 * b), "k", base_ts + 1000 * b),
                   entry("b" + std::to_string(2 * b + 1), std::nullopt, base_ts + 1000 * b)});
  }
  void expect_contiguous(PartitionLog& log, std::uint64_t count) {
    const auto seen = read_all(log, OffsetSpec::first());
    ASSERT_EQ(seen.size(), count);
    for (std::uint64_t i = 0; i < count; ++i) {
      EXPECT_EQ(seen[i].offset, i);
      EXPECT_EQ(seen[i].body, "b" + std::to_string(i));
    }
  }
  std::string last_log() const { return seg_path(files(".log").back()); }
  static void append_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::app) << bytes;
  }
  static void flip(const std::string& path, std::uint64_t at) {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekg(static_cast<std::streamoff>(at));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(at));
    f.put(static_cast<char>(c ^ 0x20));
  }
  const std::int64_t base_ts = 1'600'000'000'000;
};

TEST_F(StreamRecovery, ReopenKeepsEverythingAndContinuesTheOffsets) {
  auto log = open_log(rolled());
  fill(*log);
  const auto segments = log->segment_count();
  log.reset();
  auto again = open_log(rolled());
  EXPECT_EQ(again->recovery().truncated_bytes, 0u);
  EXPECT_EQ(again->recovery().indexes_rebuilt, 0u);  // sealed segments' files were good
  EXPECT_EQ(again->segment_count(), segments);
  EXPECT_EQ(again->end_offset().value, 60u);
  expect_contiguous(*again, 60);
  EXPECT_EQ(commit(*again, {entry("b60")}), 60u);
  expect_contiguous(*again, 61);
  // Timestamps never go back across a restart either.
  const auto tail = read_all(*again, OffsetSpec::offset(StreamOffset{59}));
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_GE(tail[1].ts, tail[0].ts);
}

TEST_F(StreamRecovery, IndexesAreRebuiltWhenDeleted) {
  auto log = open_log(rolled());
  fill(*log);
  log.reset();
  const auto sealed = files(".index").size();
  ASSERT_GT(sealed, 2u);
  for (const auto& f : files(".index")) fs::remove(seg_path(f));
  for (const auto& f : files(".timeindex")) fs::remove(seg_path(f));
  auto again = open_log(rolled());
  EXPECT_EQ(again->recovery().indexes_rebuilt, sealed);
  EXPECT_EQ(files(".index").size(), sealed);  // written again
  EXPECT_EQ(files(".timeindex").size(), sealed);
  expect_contiguous(*again, 60);
  // Seeks work as before.
  for (std::uint64_t n = 0; n < 60; n += 7) {
    auto seen = read_all(*again, OffsetSpec::offset(StreamOffset{n}));
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.front().offset, n);
  }
  auto by_time = read_all(*again, OffsetSpec::timestamp(base_ts + 10'500));
  ASSERT_FALSE(by_time.empty());
  EXPECT_EQ(by_time.front().offset, 22u);
  // And the next open trusts them.
  again.reset();
  auto third = open_log(rolled());
  EXPECT_EQ(third->recovery().indexes_rebuilt, 0u);
}

TEST_F(StreamRecovery, ADamagedOrStaleIndexIsRebuilt) {
  auto log = open_log(rolled());
  fill(*log);
  log.reset();
  const auto idx = files(".index");
  ASSERT_GT(idx.size(), 2u);
  flip(seg_path(idx[0]), 80);                                   // an entry
  fs::resize_file(seg_path(files(".timeindex")[1]), 30);        // torn
  std::ofstream(seg_path(idx[2]), std::ios::trunc) << "junk";   // not an index at all
  auto again = open_log(rolled());
  EXPECT_EQ(again->recovery().indexes_rebuilt, 3u);
  expect_contiguous(*again, 60);
}

TEST_F(StreamRecovery, ATornTailIsCutToTheLastWholeBatch) {
  PartitionOptions o = rolled();
  o.max_segment_bytes = 100000;  // one segment
  auto log = open_log(o);
  fill(*log, 9);
  const auto before_last = fs::file_size(last_log());
  commit(*log, {entry("b18", "k", base_ts + 9000), entry("b19", std::nullopt, base_ts + 9000)});
  log.reset();
  const std::string path = last_log();
  const auto size = fs::file_size(path);
  // Every cut inside the last batch loses that batch only.
  const std::uint64_t batch = size - before_last;
  for (std::uint64_t cut = 1; cut < batch; cut += 5) {
    fs::resize_file(path, size - cut);
    auto again = open_log(o);
    EXPECT_EQ(again->recovery().truncated_bytes, batch - cut);
    EXPECT_NE(again->recovery().report.find("cut torn"), std::string::npos);
    EXPECT_EQ(again->end_offset().value, 18u);
    expect_contiguous(*again, 18);
    again.reset();
    EXPECT_EQ(fs::file_size(path), size - batch);
    // Put the batch back for the next round.
    auto put = open_log(o);
    commit(*put, {entry("b18", "k", base_ts + 9000), entry("b19", std::nullopt, base_ts + 9000)});
    put.reset();
    ASSERT_EQ(fs::file_size(path), size);
  }
}

TEST_F(StreamRecovery, GarbageAndFlippedBitsAtTheTailAreCut) {
  auto log = open_log(rolled());
  fill(*log);
  log.reset();
  const std::string path = last_log();
  const auto size = fs::file_size(path);
  append_bytes(path, std::string(1000, '\xAB'));
  {
    auto again = open_log(rolled());
    EXPECT_EQ(again->recovery().truncated_bytes, 1000u);
    expect_contiguous(*again, 60);
  }
  EXPECT_EQ(fs::file_size(path), size);
  // A bit flip in the last batch: that batch goes, offsets stay contiguous,
  // and appends continue right after the one before.
  flip(path, size - 3);
  auto again = open_log(rolled());
  EXPECT_GT(again->recovery().truncated_bytes, 0u);
  EXPECT_EQ(again->end_offset().value, 58u);
  expect_contiguous(*again, 58);
  EXPECT_EQ(commit(*again, {entry("b58")}), 58u);
}

TEST_F(StreamRecovery, AnEmptyOrHeaderlessLastSegmentIsRewritten) {
  auto log = open_log(rolled());
  fill(*log);
  log.reset();
  const std::string path = last_log();
  const auto base = parse_segment_file_name(fs::path(path).filename().string())->base;
  // The state after a crash right after a roll: the new file, no bytes.
  fs::resize_file(path, 0);
  auto again = open_log(rolled());
  EXPECT_EQ(again->end_offset(), base);
  EXPECT_EQ(fs::file_size(path), format::kSegmentHeaderBytes);
  expect_contiguous(*again, base.value);
  EXPECT_EQ(commit(*again, {entry("b" + std::to_string(base.value))}), base.value);
}

TEST_F(StreamRecovery, CorruptionBeforeTheTailFailsTheOpen) {
  auto log = open_log(rolled());
  fill(*log);
  log.reset();
  const auto logs = files(".log");
  ASSERT_GT(logs.size(), 2u);
  // A sealed segment's batch: its index says nothing about the bytes, so
  // it is trusted until the index goes; then the scan finds the damage.
  flip(seg_path(logs[1]), format::kSegmentHeaderBytes + 50);
  fs::remove(seg_path(files(".index")[1]));
  auto r = PartitionLog::open(rolled());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "corrupt stream batch");
  EXPECT_NE(r.error().detail.find(logs[1]), std::string::npos) << r.error().detail;
  EXPECT_NE(r.error().detail.find("position"), std::string::npos);
}

TEST_F(StreamRecovery, AMissingMiddleSegmentIsAGap) {
  auto log = open_log(rolled());
  fill(*log);
  log.reset();
  const auto logs = files(".log");
  ASSERT_GT(logs.size(), 3u);
  fs::remove(seg_path(logs[1]));
  auto r = PartitionLog::open(rolled());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "gap in stream offsets");
}

TEST_F(StreamRecovery, LeftoverFilesOfADeletionAreCleanedUp) {
  auto log = open_log(rolled());
  fill(*log);
  log.reset();
  // A retention deletion interrupted between the log and its indexes.
  const auto logs = files(".log");
  fs::remove(seg_path(logs[0]));
  std::ofstream(seg_path(logs[0].substr(0, 20) + ".index.tmp")) << "x";
  auto again = open_log(rolled());
  EXPECT_EQ(files(".index").size(), files(".log").size() - 1);
  EXPECT_TRUE(files(".tmp").empty());
  EXPECT_GT(again->first_offset().value, 0u);
}

// A power loss (FaultEnv drops every unsynced byte) in the middle of a
// stream of appends and syncs: every committed entry is there after the
// restart, nothing more, offsets contiguous.
TEST_F(StreamRecovery, EveryCommittedEntrySurvivesAPowerLoss) {
  store::testing::FaultEnv env;
  PartitionOptions o = rolled();
  o.fsync = store::FsyncPolicy::kAlways;
  std::uint64_t committed = 0;
  {
    auto log = PartitionLog::open(o, env);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 57; ++i) {
      ASSERT_TRUE((*log)->append(std::vector{entry("b" + std::to_string(i))}, [&](const CommitResult& r) {
                          if (r.ok) committed = r.first.value + r.count;
                        }).ok());
      if (i % 4 == 3) {
        ASSERT_TRUE((*log)->sync().ok());
      }
    }
    EXPECT_EQ(committed, 56u);
    env.crash();  // the last entry was written, never synced
  }
  env.restart();
  auto log = PartitionLog::open(o, env);
  ASSERT_TRUE(log.ok()) << log.error().text();
  EXPECT_GE((*log)->end_offset().value, committed);
  EXPECT_LE((*log)->end_offset().value, 57u);
  expect_contiguous(**log, (*log)->end_offset().value);
  const std::uint64_t end = (*log)->end_offset().value;
  EXPECT_EQ(commit(**log, {entry("b" + std::to_string(end))}), end);
}

}  // namespace
}  // namespace ferry::stream
