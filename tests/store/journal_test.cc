// Journal behaviour that holds on any file system: every test body here runs
// against the real POSIX env and against FaultEnv with no fault armed.
#include "store/journal.h"
#include "store/record_format.h"
#include "store/record_codec.h"
#include "store/crc32c.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "fault_env.h"
#include "journal_test_util.h"
#include "store/env.h"

namespace ferry::store::testing {
namespace {

enum class EnvKind { kPosix, kFault };

class JournalTest : public ::testing::TestWithParam<EnvKind> {
 protected:
  Env& env() { return GetParam() == EnvKind::kPosix ? Env::posix() : fault_env_; }

  JournalOptions options() {
    JournalOptions o;
    o.directory = dir_.path() + "/data";
    return o;
  }

  std::unique_ptr<Journal> open(const JournalOptions& o) {
    auto opened = Journal::open(o, env());
    EXPECT_TRUE(opened) << opened.error().text();
    std::unique_ptr<Journal> j = opened ? std::move(*opened) : nullptr;
    return j;
  }

  // Appends and waits for every completion; expects all to succeed.
  std::vector<SegmentId> append_all(Journal& j, const std::vector<std::string>& payloads,
                                    RecordType type = RecordType::kMessage) {
    Completions c;
    std::vector<SegmentId> segs;
    for (const auto& p : payloads) segs.push_back(j.append(type, bytes(p), c.track()));
    for (const auto& [tag, r] : c.wait(payloads.size())) EXPECT_TRUE(r.ok) << r.error;
    return segs;
  }

  static std::vector<std::string> numbered(int n, int from = 0, std::size_t pad = 0) {
    std::vector<std::string> out;
    for (int i = from; i < from + n; ++i) out.push_back("record " + std::to_string(i) + std::string(pad + i % 37, 'x'));
    return out;
  }

  static std::vector<std::string> payloads(const std::vector<Rec>& recs) {
    std::vector<std::string> out;
    for (const auto& r : recs) out.push_back(r.payload);
    return out;
  }

  TempDir dir_;
  FaultEnv fault_env_;
};

TEST_P(JournalTest, RoundTripAcrossSegments) {
  JournalOptions o = options();
  o.segment_size = 4096;
  auto want = numbered(1000, 0, 20);
  std::vector<SegmentId> segs;
  {
    auto j = open(o);
    EXPECT_TRUE(replay_all(*j).empty());
    segs = append_all(*j, want);
    EXPECT_GE(j->segment_count(), 5u);
    EXPECT_GT(j->disk_bytes(), 1000u * 20);
  }
  auto j = open(o);
  ReplayStats stats;
  // Keep every record live, as a broker rebuilding its queues would.
  auto got = replay_all(*j, &stats, [&](const Rec& r) { j->retain(SegmentId{r.segment}); });
  ASSERT_EQ(payloads(got), want);
  EXPECT_EQ(stats.records, want.size());
  EXPECT_EQ(stats.truncated_bytes, 0u);
  EXPECT_TRUE(stats.report.empty()) << stats.report;
  EXPECT_EQ(stats.segments, j->segment_count());
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].segment, segs[i].value) << "append() promised another segment for " << i;
    if (i > 0) {
      EXPECT_TRUE(got[i].segment > got[i - 1].segment || got[i].offset > got[i - 1].offset);
    }
  }
  // Every segment stays within segment_size (records are small).
  for (const auto& name : segment_files(o.directory)) {
    EXPECT_LE(std::filesystem::file_size(o.directory + "/journal/" + name), 4096u);
  }
}

TEST_P(JournalTest, AppendsContinueAfterReopen) {
  JournalOptions o = options();
  for (int round = 0; round < 3; ++round) {
    auto j = open(o);
    auto got = replay_all(*j);
    EXPECT_EQ(payloads(got), numbered(10 * round));
    append_all(*j, numbered(10, 10 * round));
  }
  EXPECT_EQ(segment_files(o.directory).size(), 1u);
}

// A journal written by format version 1 (unsealed records) replays, and new
// records go to a new (sealed) segment instead of its last one: appended
// there they would not be valid in it (found by the journal_segment fuzzer).
TEST_P(JournalTest, AVersionOneJournalIsContinuedInANewSegment) {
  JournalOptions o = options();
  std::filesystem::create_directories(o.directory + "/journal");
  std::string v1 = encode_segment_header(SegmentId{1});
  format::put_u32(v1.data() + 8, 1);
  format::put_u32(v1.data() + format::kSegmentHeaderCrcOffset,
                  crc32c::mask(crc32c::value(v1.data(), format::kSegmentHeaderCrcOffset)));
  for (const auto& p : numbered(3)) encode_record(v1, RecordType::kMessage, bytes(p), 0);
  write_file(segment_file(o.directory, 1), v1);
  for (int round = 1; round <= 2; ++round) {
    auto j = open(o);
    ReplayStats stats;
    // Retained as the broker would (an unretained segment is dead).
    auto got = replay_all(*j, &stats, [&](const Rec& r) { j->retain(SegmentId{r.segment}); });
    EXPECT_EQ(payloads(got), numbered(3 * round));
    EXPECT_EQ(stats.truncated_bytes, 0u) << stats.report;
    const auto segs = append_all(*j, numbered(3, 3 * round));
    EXPECT_EQ(segs.front().value, 2u);
  }
  EXPECT_EQ(read_file(segment_file(o.directory, 1)), v1);  // untouched
}

TEST_P(JournalTest, RecordLargerThanASegmentGetsItsOwn) {
  JournalOptions o = options();
  o.segment_size = 1024;
  std::vector<std::string> want = {"small", std::string(5000, 'L'), "after"};
  {
    auto j = open(o);
    (void)replay_all(*j);
    auto segs = append_all(*j, want);
    EXPECT_EQ(segs[0].value, 1u);
    EXPECT_EQ(segs[1].value, 2u);
    EXPECT_EQ(segs[2].value, 3u);
  }
  auto j = open(o);
  EXPECT_EQ(payloads(replay_all(*j)), want);
}

TEST_P(JournalTest, GroupCommitSharesSyncsAcrossThreads) {
  fault_env_.set_sync_delay_us(500);  // a disk; the POSIX run syncs for real
  JournalOptions o = options();
  auto j = open(o);
  (void)replay_all(*j);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 400;
  Completions c;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string p = "t" + std::to_string(t) + "-" + std::to_string(i);
        j->append(RecordType::kMessage, bytes(p), c.track(t));
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& [tag, r] : c.wait(kThreads * kPerThread)) ASSERT_TRUE(r.ok) << r.error;
  EXPECT_GE(j->fsync_count(), 1u);
  EXPECT_LT(j->fsync_count(), kThreads * kPerThread / 4u)
      << "group commit should cover many records per fdatasync";
  j->close();

  auto again = open(o);
  auto got = replay_all(*again);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kThreads * kPerThread));
  // Per thread, records are in append order.
  std::map<std::string, int> next;
  for (const auto& r : got) {
    auto dash = r.payload.find('-');
    std::string t = r.payload.substr(0, dash);
    EXPECT_EQ(std::stoi(r.payload.substr(dash + 1)), next[t]++) << r.payload;
  }
}

TEST_P(JournalTest, TornTailAtEveryOffsetOfTheLastRecord) {
  JournalOptions o = options();
  auto want = numbered(5);
  std::vector<Rec> clean;
  {
    auto j = open(o);
    (void)replay_all(*j);
    append_all(*j, want);
  }
  {
    auto j = open(o);
    clean = replay_all(*j);
  }
  const std::string path = segment_file(o.directory, 1);
  const std::string full = read_file(path);
  const std::uint64_t last = clean.back().offset;
  for (std::uint64_t cut = last; cut < full.size(); ++cut) {
    write_file(path, full.substr(0, cut));
    auto j = open(o);
    ASSERT_TRUE(j);
    ReplayStats stats;
    auto got = replay_all(*j, &stats);
    ASSERT_EQ(payloads(got), std::vector<std::string>(want.begin(), want.end() - 1)) << "cut " << cut;
    EXPECT_EQ(stats.truncated_bytes, cut - last) << cut;
    if (cut > last) {
      EXPECT_NE(stats.report.find("offset " + std::to_string(last)), std::string::npos)
          << stats.report;
    }
    j.reset();
    EXPECT_EQ(std::filesystem::file_size(path), last) << "the torn tail is cut off the file";
  }
  // After a cut, appends continue right after the valid end.
  write_file(path, full.substr(0, full.size() - 3));
  {
    auto j = open(o);
    (void)replay_all(*j);
    append_all(*j, {"new tail"});
  }
  auto j = open(o);
  auto got = replay_all(*j);
  auto expect = std::vector<std::string>(want.begin(), want.end() - 1);
  expect.push_back("new tail");
  EXPECT_EQ(payloads(got), expect);
  EXPECT_EQ(got.back().offset, last);
}

TEST_P(JournalTest, BitFlipsInTheLastRecordAreCut) {
  JournalOptions o = options();
  auto want = numbered(4);
  {
    auto j = open(o);
    (void)replay_all(*j);
    append_all(*j, want);
  }
  std::uint64_t last = 0;
  {
    auto j = open(o);
    last = replay_all(*j).back().offset;
  }
  const std::string path = segment_file(o.directory, 1);
  const std::string full = read_file(path);
  for (std::uint64_t i = last; i < full.size(); ++i) {
    std::string d = full;
    d[i] = static_cast<char>(d[i] ^ 0x10);
    write_file(path, d);
    auto j = open(o);
    ASSERT_TRUE(j);
    ReplayStats stats;
    ASSERT_EQ(payloads(replay_all(*j, &stats)), std::vector<std::string>(want.begin(), want.end() - 1))
        << "flip at " << i;
    EXPECT_EQ(stats.truncated_bytes, full.size() - last);
  }
}

TEST_P(JournalTest, BitFlipInAMiddleRecordFailsOpenNamingThePosition) {
  JournalOptions o = options();
  auto want = numbered(5);
  std::vector<Rec> clean;
  {
    auto j = open(o);
    (void)replay_all(*j);
    append_all(*j, want);
  }
  {
    auto j = open(o);
    clean = replay_all(*j);
  }
  const std::string path = segment_file(o.directory, 1);
  std::string d = read_file(path);
  const std::uint64_t at = clean[2].offset;
  const std::uint64_t size = clean[3].offset - at;
  d[at + 10] = static_cast<char>(d[at + 10] ^ 1);
  write_file(path, d);

  auto opened = Journal::open(o, env());
  ASSERT_FALSE(opened);
  const std::string error = opened.error().text();
  EXPECT_NE(error.find("segment 1"), std::string::npos) << error;
  EXPECT_NE(error.find("offset " + std::to_string(at)), std::string::npos) << error;
  EXPECT_NE(error.find("(" + std::to_string(size) + " bytes)"), std::string::npos) << error;
  EXPECT_EQ(read_file(path), d) << "a failed open changes nothing";

  // skip_corrupt: the record is skipped, reported, and the rest replays.
  o.skip_corrupt = true;
  auto j = open(o);
  ReplayStats stats;
  auto got = replay_all(*j, &stats);
  auto expect = want;
  expect.erase(expect.begin() + 2);
  EXPECT_EQ(payloads(got), expect);
  EXPECT_NE(stats.report.find("offset " + std::to_string(at)), std::string::npos) << stats.report;
  EXPECT_EQ(stats.truncated_bytes, 0u);
}

TEST_P(JournalTest, CorruptionInANonLastSegmentFailsOpen) {
  JournalOptions o = options();
  o.segment_size = 256;
  {
    auto j = open(o);
    (void)replay_all(*j);
    append_all(*j, numbered(40));
    ASSERT_GE(j->segment_count(), 3u);
  }
  // Tear the tail of segment 1: harmless at the end of the journal, data
  // loss in the middle of it.
  const std::string path = segment_file(o.directory, 1);
  std::string d = read_file(path);
  write_file(path, d.substr(0, d.size() - 2));
  auto opened = Journal::open(o, env());
  ASSERT_FALSE(opened);
  const std::string error = opened.error().text();
  EXPECT_NE(error.find("segment 1"), std::string::npos) << error;

  o.skip_corrupt = true;
  auto j = open(o);
  ReplayStats stats;
  auto got = replay_all(*j, &stats);
  EXPECT_EQ(got.size(), 39u);
  EXPECT_FALSE(stats.report.empty());
}

TEST_P(JournalTest, BatchIsAtomicAcrossATear) {
  JournalOptions o = options();
  std::vector<std::pair<RecordType, std::string>> batch = {
      {RecordType::kMessage, "m1"}, {RecordType::kAck, "ack"}, {RecordType::kDeliveries, "d"}};
  {
    auto j = open(o);
    (void)replay_all(*j);
    append_all(*j, {"before"});
    Completions c;
    j->append_batch(batch, c.track());
    EXPECT_TRUE(c.wait(1)[0].second.ok);
  }
  const std::string path = segment_file(o.directory, 1);
  const std::string full = read_file(path);
  std::vector<Rec> got;
  {
    auto j = open(o);
    got = replay_all(*j);
  }
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[1], (Rec{RecordType::kMessage, "m1", 0, 0}));
  EXPECT_EQ(got[2], (Rec{RecordType::kAck, "ack", 0, 0}));
  EXPECT_EQ(got[3], (Rec{RecordType::kDeliveries, "d", 0, 0}));
  EXPECT_EQ(got[1].offset, got[3].offset) << "batch entries carry the batch's position";
  const std::uint64_t at = got[1].offset;
  for (std::uint64_t cut = at; cut < full.size(); ++cut) {
    write_file(path, full.substr(0, cut));
    auto j = open(o);
    ASSERT_EQ(payloads(replay_all(*j)), std::vector<std::string>{"before"}) << "cut " << cut;
  }
}

// Paging relies on it: the completion says exactly where each record is,
// across segment rolls and inside batches, and read_span / read_at find it.
TEST_P(JournalTest, CompletionsNameExactPositionsThatReadBack) {
  JournalOptions o = options();
  o.segment_size = 4096;
  auto j = open(o);
  (void)replay_all(*j);
  const auto recs = numbered(200, 0, 40);
  Completions c;
  for (int i = 0; i < static_cast<int>(recs.size()); ++i) {
    if (i % 50 == 7) {
      j->append_batch({{RecordType::kAck, "a" + recs[i]}, {RecordType::kMessage, recs[i]}}, c.track(i));
    } else {
      j->append(RecordType::kMessage, bytes(recs[i]), c.track(i));
    }
  }
  auto done = c.wait(recs.size());
  ASSERT_EQ(done.size(), recs.size());
  std::uint64_t segments = 0, last = 0;
  for (const auto& [i, r] : done) {
    ASSERT_TRUE(r.ok) << r.error;
    segments += r.segment.value != last;
    last = r.segment.value;
    const std::uint32_t want_index = i % 50 == 7 ? 1 : 0;
    std::string found;
    j->read_span(r.segment, r.offset, 512,
                 [&](std::uint64_t off, std::uint32_t index, RecordType t, std::span<const char> p) {
                   if (off != r.offset) return false;  // the next record
                   if (index == want_index) found.assign(p.data(), p.size());
                   return true;
                 });
    EXPECT_EQ(found, recs[i]) << "record " << i << " at " << r.segment.value << ":" << r.offset;
    std::uint32_t n = 0;
    EXPECT_TRUE(j->read_at(r.segment, r.offset, [&](RecordType, std::span<const char> p) {
      return n++ == want_index && std::string(p.data(), p.size()) == recs[i];
    }));
  }
  EXPECT_GT(segments, 3u) << "the records should span several segments";
  // A span visits consecutive records in order.
  std::vector<std::uint64_t> offsets;
  const auto& first = done.front().second;
  j->read_span(first.segment, first.offset, 4096,
               [&](std::uint64_t off, std::uint32_t, RecordType, std::span<const char>) {
                 offsets.push_back(off);
                 return true;
               });
  EXPECT_GT(offsets.size(), 3u);
  EXPECT_TRUE(std::is_sorted(offsets.begin(), offsets.end()));
}

TEST_P(JournalTest, SecondOpenOfTheDirectoryFails) {
  JournalOptions o = options();
  auto j = open(o);
  auto opened = Journal::open(o, env());
  ASSERT_FALSE(opened);
  const std::string error = opened.error().text();
  EXPECT_EQ(error, "data directory " + o.directory + " is in use by another ferry process");
  j->close();
  auto again = open(o);
  EXPECT_TRUE(again);
}

TEST_P(JournalTest, ReleasedSegmentsAreDeletedOldestFirst) {
  JournalOptions o = options();
  o.segment_size = 200;
  auto j = open(o);
  (void)replay_all(*j);
  std::map<std::uint64_t, int> live;
  Completions c;
  for (int i = 0; i < 30; ++i) {
    std::string p = "message " + std::to_string(i) + std::string(40, '.');
    SegmentId s = j->append_retained(RecordType::kMessage, bytes(p), 1, c.track());
    ++live[s.value];
  }
  c.wait(30);
  ASSERT_GE(live.size(), 4u);
  const std::uint64_t first = live.begin()->first;
  const std::uint64_t second = std::next(live.begin())->first;
  const std::uint64_t active = live.rbegin()->first;
  const std::uint64_t count = j->segment_count();

  // Releasing the second segment alone deletes nothing: the first is live.
  for (int k = 0; k < live[second]; ++k) j->release(SegmentId{second});
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(j->segment_count(), count);
  EXPECT_TRUE(std::filesystem::exists(segment_file(o.directory, second)));

  // Releasing the first deletes both.
  for (int k = 0; k < live[first]; ++k) j->release(SegmentId{first});
  EXPECT_TRUE(eventually([&] { return j->segment_count() == count - 2; }));
  EXPECT_FALSE(std::filesystem::exists(segment_file(o.directory, first)));
  EXPECT_FALSE(std::filesystem::exists(segment_file(o.directory, second)));

  // The segment being written is never deleted, even with nothing live.
  for (auto it = std::next(live.begin(), 2); it != live.end(); ++it) {
    for (int k = 0; k < it->second; ++k) j->release(SegmentId{it->first});
  }
  EXPECT_TRUE(eventually([&] { return j->segment_count() == 1; }));
  EXPECT_TRUE(std::filesystem::exists(segment_file(o.directory, active)));
  const std::uint64_t bytes_left = j->disk_bytes();
  EXPECT_EQ(bytes_left, std::filesystem::file_size(segment_file(o.directory, active)));
}

TEST_P(JournalTest, ReplayRetainsNothingAndUnretainedSegmentsGo) {
  JournalOptions o = options();
  o.segment_size = 200;
  {
    auto j = open(o);
    (void)replay_all(*j);
    append_all(*j, numbered(20, 0, 40));
    ASSERT_GE(j->segment_count(), 4u);
  }
  auto j = open(o);
  // Keep only what lives in segment 2.
  int kept = 0;
  auto got = replay_all(*j, nullptr, [&](const Rec& r) {
    if (r.segment == 2) {
      j->retain(SegmentId{2});
      ++kept;
    }
  });
  ASSERT_GT(kept, 0);
  EXPECT_TRUE(eventually([&] { return !std::filesystem::exists(segment_file(o.directory, 1)); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(std::filesystem::exists(segment_file(o.directory, 2)));
  EXPECT_TRUE(std::filesystem::exists(segment_file(o.directory, 3)));
  for (int k = 0; k < kept; ++k) j->release(SegmentId{2});
  EXPECT_TRUE(eventually([&] { return j->segment_count() == 1; }));
  // What is left is the last segment, and appends go on in it.
  append_all(*j, {"more"});
  j->close();
  auto again = open(o);
  auto after = replay_all(*again);
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after.back().payload, "more");
}

TEST_P(JournalTest, NoDeletionBeforeReplay) {
  JournalOptions o = options();
  o.segment_size = 200;
  {
    auto j = open(o);
    (void)replay_all(*j);
    append_all(*j, numbered(20, 0, 40));
  }
  const auto before = segment_files(o.directory);
  {
    auto j = open(o);
    j->retain(SegmentId{1});
    j->release(SegmentId{1});
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(segment_files(o.directory), before);
}

TEST_P(JournalTest, NeverAndIntervalPolicies) {
  JournalOptions o = options();
  o.fsync = FsyncPolicy::kNever;
  {
    auto j = open(o);
    (void)replay_all(*j);
    append_all(*j, numbered(50));
    EXPECT_EQ(j->fsync_count(), 0u);
  }
  o.fsync = FsyncPolicy::kInterval;
  o.fsync_interval_ms = 5;
  {
    auto j = open(o);
    EXPECT_EQ(replay_all(*j).size(), 50u);
    append_all(*j, numbered(50, 50));
    EXPECT_TRUE(eventually([&] { return j->fsync_count() >= 1; }));
  }
  auto j = open(o);
  EXPECT_EQ(payloads(replay_all(*j)), numbered(100));
}

TEST_P(JournalTest, AppendAfterCloseFailsAtOnce) {
  auto j = open(options());
  (void)replay_all(*j);
  j->close();
  bool called = false;
  j->append(RecordType::kMessage, bytes(std::string("x")), [&](const AppendResult& r) {
    called = true;
    EXPECT_FALSE(r.ok);
  });
  EXPECT_TRUE(called);
}

INSTANTIATE_TEST_SUITE_P(Envs, JournalTest, ::testing::Values(EnvKind::kPosix, EnvKind::kFault),
                         [](const auto& info) {
                           return info.param == EnvKind::kPosix ? "Posix" : "Fault";
                         });

}  // namespace
}  // namespace ferry::store::testing
