#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "store/fault_env.h"
#include "store/record_format.h"
#include "stream/batch_codec.h"
#include "stream_test_util.h"

// Compaction (docs/streams.md "Compaction"): the last entry per key in
// sealed segments, offsets kept, holes for the removed ones, tombstones after
// delete_retention_ms, crash-safe segment swaps.

namespace ferry::stream::testing {
namespace {

class StreamCompaction : public StreamTest {
 protected:
  PartitionOptions small() {
    PartitionOptions o = options();
    o.max_segment_bytes = 600;
    o.index_interval_bytes = 100;
    o.retention.compact = true;
    o.retention.delete_retention_ms = 10'000;
    return o;
  }
  // 40 single-entry batches cycling over keys k0..k3 (bodies "v<i>"), one
  // keyless entry every 5th; offset -> key and body, as appended.
  struct Appended {
    std::optional<std::string> key;
    std::string body;
  };
  std::map<std::uint64_t, Appended> fill(PartitionLog& log, int n = 40, int first = 0) {
    std::map<std::uint64_t, Appended> out;
    for (int i = first; i < first + n; ++i) {
      std::optional<std::string> key;
      if (i % 5 != 4) key = "k" + std::to_string(i % 4);
      const std::string body = "v" + std::to_string(i);
      out[commit(log, {entry(body, key)})] = {key, body};
      now_ += 100;
    }
    return out;
  }
  static std::map<std::string, std::uint64_t> last_of(const std::map<std::uint64_t, Appended>& all) {
    std::map<std::string, std::uint64_t> last;
    for (const auto& [off, a] : all)
      if (a.key) last[*a.key] = off;
    return last;
  }
  std::map<std::string, std::string> snapshot_files() const {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::directory_iterator(dir_.path() + "/p0")) {
      std::ifstream in(e.path(), std::ios::binary);
      out[e.path().filename().string()] = std::string(std::istreambuf_iterator<char>(in), {});
    }
    return out;
  }
};

TEST(StreamHoleBatch, EncodesAndChecks) {
  std::string b;
  encode_hole(b, StreamOffset{7}, 1000, 5, 9, 2);
  ASSERT_EQ(b.size(), format::kBatchHeaderBytes);
  BatchHeader h;
  std::string why;
  ASSERT_TRUE(check_batch(b, format::kMaxBatchBytesLimit, h, why)) << why;
  EXPECT_TRUE(h.hole());
  EXPECT_EQ(h.base.value, 7u);
  EXPECT_EQ(h.next().value, 1007u);
  EXPECT_EQ(h.epoch, 2u);
  int visited = 0;
  EXPECT_TRUE(for_each_entry(b, h, [&](const EntryView&) { return ++visited, true; }));
  EXPECT_EQ(visited, 0);
  // A hole with entry bytes after its header is not one.
  std::string longer = b + std::string(format::kEntryMinBytes, '\0');
  store::format::put_u32(longer.data(), static_cast<std::uint32_t>(longer.size() - format::kBatchPrefixBytes));
  store::format::put_u32(longer.data() + 4, batch_crc(longer));
  EXPECT_FALSE(check_batch(longer, format::kMaxBatchBytesLimit, h, why));
}

TEST_F(StreamCompaction, KeepsTheLastEntryPerKeyAtItsOffset) {
  auto log = open_log(small());
  const auto all = fill(*log);
  ASSERT_GT(log->segment_count(), 3u);
  const auto before = read_all(*log, OffsetSpec::first());
  ASSERT_EQ(before.size(), all.size());
  const std::uint64_t bytes_before = log->disk_bytes();

  auto st = log->compact(now_);
  ASSERT_TRUE(st.ok()) << st.error().text();
  EXPECT_GT(st->segments_rewritten, 0u);
  EXPECT_GT(st->entries_removed, 0u);
  EXPECT_LT(log->disk_bytes(), bytes_before);

  const auto after = read_all(*log, OffsetSpec::first());
  EXPECT_EQ(after.size() + st->entries_removed, before.size());
  const auto last = last_of(all);
  std::set<std::uint64_t> kept;
  std::uint64_t prev = 0;
  for (const Seen& s : after) {
    if (!kept.empty()) EXPECT_GT(s.offset, prev);
    prev = s.offset;
    kept.insert(s.offset);
    // Every kept entry is the one appended at that offset.
    ASSERT_TRUE(all.contains(s.offset));
    EXPECT_EQ(s.body, all.at(s.offset).body);
    EXPECT_EQ(s.key, all.at(s.offset).key);
  }
  for (const auto& [off, a] : all) {
    if (kept.contains(off)) continue;
    // Only keyed entries that a later entry of their key superseded go.
    ASSERT_TRUE(a.key) << off;
    EXPECT_GT(last.at(*a.key), off);
  }
  // Every key's last entry and every keyless one is still there.
  for (const auto& [k, off] : last) EXPECT_TRUE(kept.contains(off)) << k;
  for (const auto& [off, a] : all)
    if (!a.key) EXPECT_TRUE(kept.contains(off));
  EXPECT_EQ(log->first_offset().value, 0u);
  EXPECT_EQ(log->end_offset().value, all.size());

  // The same after a restart (holes recovered, indexes loaded or rebuilt).
  log.reset();
  log = open_log(small());
  const auto reopened = read_all(*log, OffsetSpec::first());
  ASSERT_EQ(reopened.size(), after.size());
  for (std::size_t i = 0; i < after.size(); ++i) EXPECT_EQ(reopened[i].offset, after[i].offset);
  EXPECT_TRUE(files(".tmp").empty());
}

TEST_F(StreamCompaction, AReaderAtARemovedOffsetGoesOnAtTheNextKeptOne) {
  auto log = open_log(small());
  const auto all = fill(*log);
  // Positions taken before compaction, in segments it rewrites.
  auto early = StreamReader::open(*log, OffsetSpec::offset(StreamOffset{1}));
  ASSERT_TRUE(early.ok());
  auto mid = StreamReader::open(*log, OffsetSpec::offset(StreamOffset{9}));
  ASSERT_TRUE(mid.ok());
  ASSERT_TRUE(log->compact(now_).ok());
  const auto after = read_all(*log, OffsetSpec::first());
  std::set<std::uint64_t> kept;
  for (const Seen& s : after) kept.insert(s.offset);
  ASSERT_FALSE(kept.contains(1));  // k1 at offset 1 is superseded by offset 5
  const auto next_kept = [&](std::uint64_t off) { return *kept.lower_bound(off); };

  // By offset: the next kept one.
  const auto from1 = read_all(*log, OffsetSpec::offset(StreamOffset{1}));
  ASSERT_FALSE(from1.empty());
  EXPECT_EQ(from1.front().offset, next_kept(1));
  EXPECT_EQ(from1.size(), static_cast<std::size_t>(std::distance(kept.lower_bound(1), kept.end())));
  // A consumer group's committed offset (a number) stays valid the same way.
  const auto from9 = read_all(*log, OffsetSpec::offset(StreamOffset{9}));
  ASSERT_FALSE(from9.empty());
  EXPECT_EQ(from9.front().offset, next_kept(9));

  // Positions from before the rewrite are found again by their offset.
  for (auto* r : {&*early, &*mid}) {
    const std::uint64_t want = next_kept(r->next_offset().value);
    auto got = r->read(1 << 20, 1);
    ASSERT_TRUE(got.ok()) << got.error().text();
    std::vector<std::uint64_t> offsets;
    got->for_each([&](const EntryView& e) { return offsets.push_back(e.offset.value), true; });
    ASSERT_EQ(offsets.size(), 1u);
    EXPECT_EQ(offsets.front(), want);
  }
  // Reading one entry at a time crosses the holes and sees exactly the kept ones.
  const auto one_by_one = read_all(*log, OffsetSpec::first(), 1 << 20, 1);
  ASSERT_EQ(one_by_one.size(), after.size());
  // A time seek lands on a kept entry too.
  const auto by_time = read_all(*log, OffsetSpec::timestamp(0));
  EXPECT_EQ(by_time.size(), after.size());
}

TEST_F(StreamCompaction, TombstonesDeleteTheirKeyAndGoAfterDeleteRetention) {
  auto log = open_log(small());
  auto all = fill(*log, 20);
  // k2's tombstone, then enough entries of other keys to seal its segment.
  const std::uint64_t tomb = commit(*log, {entry("", std::string("k2"))});
  now_ += 100;
  for (int i = 0; i < 20; ++i) {
    commit(*log, {entry("w" + std::to_string(i), std::string("k9"))});
    now_ += 100;
  }
  auto st = log->compact(now_);
  ASSERT_TRUE(st.ok()) << st.error().text();
  EXPECT_EQ(st->tombstones_kept, 1u);
  auto after = read_all(*log, OffsetSpec::first());
  std::vector<std::uint64_t> k2;
  for (const Seen& s : after)
    if (s.key == "k2") k2.push_back(s.offset);
  // Only the tombstone is left of k2.
  ASSERT_EQ(k2.size(), 1u);
  EXPECT_EQ(k2.front(), tomb);

  // Nothing new and within delete retention: still there.
  now_ += 5'000;
  st = log->compact(now_);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->entries_removed, 0u);
  // Past delete retention (10 s after the tombstone's time): gone, though no
  // segment was sealed since.
  now_ += 10'000;
  st = log->compact(now_);
  ASSERT_TRUE(st.ok()) << st.error().text();
  EXPECT_FALSE(st->skipped);
  EXPECT_EQ(st->entries_removed, 1u);
  after = read_all(*log, OffsetSpec::first());
  for (const Seen& s : after) EXPECT_NE(s.key, std::optional<std::string>("k2"));
  // And then there is nothing left to do.
  st = log->compact(now_);
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->skipped);
}

TEST_F(StreamCompaction, NeverTouchesTheActiveSegmentNorTheLastBatch) {
  auto log = open_log(small());
  // Every entry the same key, all in one segment that never rolled.
  PartitionOptions o = small();
  o.max_segment_bytes = 1 << 20;
  log.reset();
  log = open_log(o);
  for (int i = 0; i < 10; ++i) commit(*log, {entry("v" + std::to_string(i), std::string("k"))});
  auto st = log->compact(now_);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->entries_removed, 0u);
  EXPECT_EQ(read_all(*log, OffsetSpec::first()).size(), 10u);
  const auto last = read_all(*log, OffsetSpec::last());
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last.front().offset, 9u);
}

// The key map is bounded (stream-compaction-buffer-size, at least 1,024
// keys): a log written with 3,000 distinct keys, each twice, is compacted
// over several runs, none mapping more than the bound, and in the end every
// superseded entry is gone and every key's last entry is there.
TEST_F(StreamCompaction, MoreKeysThanTheMapHoldsAreCompactedOverSeveralRuns) {
  PartitionOptions o = small();
  o.max_segment_bytes = 16 << 10;
  o.compaction_buffer_bytes = 1;  // the floor: 1,024 keys
  auto log = open_log(o);
  constexpr int kKeys = 3000;
  for (int round = 0; round < 2; ++round) {
    for (int first = 0; first < kKeys; first += 100) {
      std::vector<StreamEntry> batch;
      for (int i = first; i < first + 100; ++i)
        batch.push_back(entry("r" + std::to_string(round), "key-" + std::to_string(i)));
      commit(*log, std::move(batch));
    }
  }
  // Keyless padding: the last keyed entries are in sealed segments too.
  for (int i = 0; i < 20; ++i) commit(*log, {entry(std::string(2000, 'p'))});

  int runs = 0;
  std::uint64_t most_mapped = 0, removed = 0;
  for (; runs < 100; ++runs) {
    auto st = log->compact(now_);
    ASSERT_TRUE(st.ok()) << st.error().text();
    if (st->skipped) break;
    most_mapped = std::max(most_mapped, st->keys_mapped);
    removed += st->entries_removed;
  }
  EXPECT_LE(most_mapped, 1024u);
  EXPECT_GE(runs, 6) << "6,000 keyed entries cannot fit one map of 1,024 keys";
  EXPECT_EQ(removed, static_cast<std::uint64_t>(kKeys));

  std::map<std::string, std::string> seen;
  std::size_t keyed = 0;
  for (const Seen& e : read_all(*log, OffsetSpec::first())) {
    if (!e.key) continue;
    ++keyed;
    EXPECT_EQ(e.body, "r1") << *e.key << " at " << e.offset << ": a superseded entry stayed";
    seen[*e.key] = e.body;
  }
  EXPECT_EQ(keyed, static_cast<std::size_t>(kKeys));
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kKeys));
}

TEST_F(StreamCompaction, AppendsAfterCompactionContinueTheOffsets) {
  auto log = open_log(small());
  const auto all = fill(*log);
  ASSERT_TRUE(log->compact(now_).ok());
  const std::uint64_t next = commit(*log, {entry("after", std::string("k0"))});
  EXPECT_EQ(next, all.size());
  const auto tail = read_all(*log, OffsetSpec::last());
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail.front().body, "after");
}

// A failure before the swap (the new file could not be synced: a crash
// then loses it) leaves the old segment: everything reads as before, and
// the temporary file is gone after the restart.
TEST_F(StreamCompaction, ACrashBeforeTheSwapLeavesTheOldSegments) {
  store::testing::FaultEnv env;
  PartitionOptions o = small();
  o.fsync = store::FsyncPolicy::kAlways;
  std::vector<Seen> before;
  {
    auto log = PartitionLog::open(o, env);
    ASSERT_TRUE(log.ok());
    fill(**log);
    before = read_all(**log, OffsetSpec::first());
    env.fail_syncs(EIO);
    auto st = (*log)->compact(now_);
    EXPECT_FALSE(st.ok());
    // Still readable as before, in the same process.
    const auto same = read_all(**log, OffsetSpec::first());
    EXPECT_EQ(same.size(), before.size());
    env.crash();
  }
  env.restart();
  env.clear_faults();
  auto log = PartitionLog::open(o, env);
  ASSERT_TRUE(log.ok()) << log.error().text();
  const auto after = read_all(**log, OffsetSpec::first());
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].offset, before[i].offset);
    EXPECT_EQ(after[i].body, before[i].body);
  }
  EXPECT_TRUE(files(".tmp").empty());
}

// A write failing half-way through the new file: the same.
TEST_F(StreamCompaction, AFailedWriteLeavesTheOldSegments) {
  store::testing::FaultEnv env;
  PartitionOptions o = small();
  o.fsync = store::FsyncPolicy::kAlways;
  auto log = PartitionLog::open(o, env);
  ASSERT_TRUE(log.ok());
  fill(**log);
  const auto before = read_all(**log, OffsetSpec::first());
  env.fail_writes(ENOSPC, 10);
  auto st = (*log)->compact(now_);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().text().find("disk full"), std::string::npos) << st.error().text();
  env.clear_faults();
  EXPECT_EQ(read_all(**log, OffsetSpec::first()).size(), before.size());
  EXPECT_TRUE(files(".tmp").empty());
  // And it works once the disk does.
  st = (*log)->compact(now_);
  ASSERT_TRUE(st.ok()) << st.error().text();
  EXPECT_GT(st->entries_removed, 0u);
}

// A crash right after the swap: the new segment was synced before its
// rename, so it is whole; its index files (a cache, never synced) are
// rebuilt.
TEST_F(StreamCompaction, ACrashAfterTheSwapKeepsTheNewSegments) {
  store::testing::FaultEnv env;
  PartitionOptions o = small();
  o.fsync = store::FsyncPolicy::kAlways;
  std::vector<Seen> compacted;
  {
    auto log = PartitionLog::open(o, env);
    ASSERT_TRUE(log.ok());
    fill(**log);
    auto st = (*log)->compact(now_);
    ASSERT_TRUE(st.ok()) << st.error().text();
    ASSERT_GT(st->entries_removed, 0u);
    compacted = read_all(**log, OffsetSpec::first());
    env.crash();
  }
  env.restart();
  auto log = PartitionLog::open(o, env);
  ASSERT_TRUE(log.ok()) << log.error().text();
  const auto after = read_all(**log, OffsetSpec::first());
  ASSERT_EQ(after.size(), compacted.size());
  for (std::size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].offset, compacted[i].offset);
}

// Index files left from before the rewrite (a crash between the rename and
// their removal could not leave them, but a copy could): they describe
// another file and are rebuilt, never trusted.
TEST_F(StreamCompaction, StaleIndexFilesOfTheOldSegmentAreRebuilt) {
  std::map<std::string, std::string> old_files;
  std::vector<Seen> compacted;
  {
    auto log = open_log(small());
    fill(*log);
    log.reset();  // every sealed segment's index files written
    old_files = snapshot_files();
    log = open_log(small());
    ASSERT_TRUE(log->compact(now_).ok());
    compacted = read_all(*log, OffsetSpec::first());
  }
  for (const auto& [name, bytes] : old_files) {
    if (!name.ends_with(".index") && !name.ends_with(".timeindex")) continue;
    std::ofstream(seg_path(name), std::ios::binary | std::ios::trunc) << bytes;
  }
  auto log = open_log(small());
  EXPECT_GT(log->recovery().indexes_rebuilt, 0u);
  const auto after = read_all(*log, OffsetSpec::first());
  ASSERT_EQ(after.size(), compacted.size());
  for (std::size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].offset, compacted[i].offset);
  for (const Seen& s : compacted) {
    const auto at = read_all(*log, OffsetSpec::offset(StreamOffset{s.offset}));
    ASSERT_FALSE(at.empty());
    EXPECT_EQ(at.front().offset, s.offset);
  }
}

}  // namespace
}  // namespace ferry::stream::testing
