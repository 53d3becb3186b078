#include "stream/partition_log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <utility>
#include <cerrno>
#include <thread>

#include "store/fault_env.h"
#include "stream/committer.h"
#include "stream/segment_file.h"
#include "stream/stream_reader.h"
#include "stream_test_util.h"

namespace ferry::stream {
namespace {

using testing::entry;
using testing::Seen;

class StreamLog : public testing::StreamTest {};

TEST_F(StreamLog, AppendThenReadRoundTrip) {
  auto log = open_log(options());
  EXPECT_EQ(commit(*log, {entry("a", "k1", 0, {{"h", "v"}}), entry("b")}), 0u);
  EXPECT_EQ(commit(*log, {entry(std::string("c\0d", 3), "k2", now_ + 5)}), 2u);
  EXPECT_EQ(log->end_offset().value, 3u);
  const auto seen = read_all(*log, OffsetSpec::first());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].offset, 0u);
  EXPECT_EQ(seen[0].key, std::optional<std::string>("k1"));
  EXPECT_EQ(seen[0].body, "a");
  EXPECT_EQ(seen[0].ts, now_);
  EXPECT_EQ(seen[1].key, std::nullopt);
  EXPECT_EQ(seen[2].offset, 2u);
  EXPECT_EQ(seen[2].body, std::string("c\0d", 3));
  EXPECT_EQ(seen[2].ts, now_ + 5);
  // Headers come back too.
  auto reader = StreamReader::open(*log, OffsetSpec::first());
  ASSERT_TRUE(reader.ok());
  auto r = reader->read(1 << 20, 1);
  ASSERT_TRUE(r.ok());
  int visited = 0;
  r->for_each([&](const EntryView& e) {
    ++visited;
    EXPECT_EQ(e.headers.size(), 1u);
    EXPECT_EQ(e.headers[0].first, "h");
    EXPECT_EQ(e.headers[0].second, "v");
    return true;
  });
  EXPECT_EQ(visited, 1);
}

TEST_F(StreamLog, EntriesAreVisibleAndCompletedOnlyAfterTheSync) {
  auto log = open_log(options());
  std::vector<CommitResult> results;
  auto t1 = log->append(std::vector{entry("a")}, [&](const CommitResult& r) { results.push_back(r); });
  auto t2 = log->append(std::vector{entry("b"), entry("c")}, [&](const CommitResult& r) { results.push_back(r); });
  ASSERT_TRUE(t1.ok() && t2.ok());
  EXPECT_EQ(t1->first.value, 0u);
  EXPECT_EQ(t2->first.value, 1u);
  EXPECT_EQ(t2->count, 2u);
  EXPECT_TRUE(results.empty());
  EXPECT_EQ(log->end_offset().value, 0u);
  EXPECT_EQ(log->written_end().value, 3u);
  EXPECT_TRUE(read_all(*log, OffsetSpec::first()).empty());
  EXPECT_TRUE(log->needs_sync());
  StreamOffset committed_end;
  ASSERT_TRUE(log->sync().ok());
  ASSERT_EQ(results.size(), 2u);  // one sync, both completions, in order
  EXPECT_TRUE(results[0].ok && results[1].ok);
  EXPECT_EQ(results[0].first.value, 0u);
  EXPECT_EQ(results[1].first.value, 1u);
  EXPECT_EQ(read_all(*log, OffsetSpec::first()).size(), 3u);
  EXPECT_FALSE(log->needs_sync());
  (void)committed_end;
}

TEST_F(StreamLog, FirstLastNextAndOffsets) {
  PartitionOptions o = options();
  o.index_interval_bytes = 64;
  auto log = open_log(o);
  EXPECT_TRUE(read_all(*log, OffsetSpec::first()).empty());  // empty log
  EXPECT_TRUE(read_all(*log, OffsetSpec::last()).empty());
  for (int b = 0; b < 20; ++b) {
    std::vector<StreamEntry> batch;
    for (int i = 0; i < 5; ++i) batch.push_back(entry("e" + std::to_string(b * 5 + i)));
    commit(*log, std::move(batch));
  }
  EXPECT_EQ(read_all(*log, OffsetSpec::first()).size(), 100u);
  const auto last = read_all(*log, OffsetSpec::last());  // the last batch
  ASSERT_EQ(last.size(), 5u);
  EXPECT_EQ(last.front().offset, 95u);
  EXPECT_TRUE(read_all(*log, OffsetSpec::next()).empty());
  for (std::uint64_t n = 0; n <= 100; ++n) {
    auto reader = StreamReader::open(*log, OffsetSpec::offset(StreamOffset{n}));
    ASSERT_TRUE(reader.ok());
    EXPECT_EQ(reader->next_offset().value, n);
    auto r = reader->read(1 << 20, 1);
    ASSERT_TRUE(r.ok());
    if (n == 100) {
      EXPECT_TRUE(r->empty());
      continue;
    }
    std::vector<Seen> got;
    r->for_each([&](const EntryView& e) {
      got.push_back({e.offset.value, e.timestamp_ms, std::nullopt, std::string(e.body)});
      return true;
    });
    ASSERT_EQ(got.size(), 1u) << n;
    EXPECT_EQ(got[0].offset, n);
    EXPECT_EQ(got[0].body, "e" + std::to_string(n));
  }
  // Beyond the end: the end (a reader waiting for what comes next).
  auto beyond = StreamReader::open(*log, OffsetSpec::offset(StreamOffset{1000}));
  ASSERT_TRUE(beyond.ok());
  EXPECT_EQ(beyond->next_offset().value, 100u);
}

TEST_F(StreamLog, SeekByTimestamp) {
  PartitionOptions o = options();
  o.max_segment_bytes = 600;
  o.index_interval_bytes = 100;
  auto log = open_log(o);
  // Entry i has timestamp base + 10 i; batches of 3.
  const std::int64_t base = now_;
  for (int b = 0; b < 30; ++b) {
    std::vector<StreamEntry> batch;
    for (int i = 0; i < 3; ++i) batch.push_back(entry("t", std::nullopt, base + 10 * (b * 3 + i)));
    commit(*log, std::move(batch));
  }
  ASSERT_GT(log->segment_count(), 3u);
  for (std::int64_t t = base - 5; t <= base + 900; t += 3) {
    auto reader = StreamReader::open(*log, OffsetSpec::timestamp(t));
    ASSERT_TRUE(reader.ok()) << reader.error().text();
    const std::int64_t rel = t - base;
    const std::uint64_t expect = rel <= 0 ? 0 : static_cast<std::uint64_t>((rel + 9) / 10);
    EXPECT_EQ(reader->next_offset().value, std::min<std::uint64_t>(expect, 90)) << "t=" << rel;
    if (expect < 90) {
      auto r = reader->read(1 << 20, 1);
      ASSERT_TRUE(r.ok());
      r->for_each([&](const EntryView& e) {
        EXPECT_GE(e.timestamp_ms, t);
        EXPECT_EQ(e.offset.value, expect);
        return true;
      });
    }
  }
}

TEST_F(StreamLog, SegmentsRollAtTheConfiguredSize) {
  PartitionOptions o = options();
  o.max_segment_bytes = 1000;
  auto log = open_log(o);
  for (int i = 0; i < 30; ++i) commit(*log, {entry(std::string(100, 'x'))});
  const auto logs = files(".log");
  ASSERT_GT(logs.size(), 3u);
  EXPECT_EQ(logs.size(), log->segment_count());
  EXPECT_EQ(logs.front(), "00000000000000000000.log");
  // Named by base offset, no segment over the limit (each holds whole
  // batches), offsets contiguous across them.
  std::uint64_t expect = 0;
  for (const auto& name : logs) {
    auto parsed = parse_segment_file_name(name);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->base.value, expect) << name;
    const auto size = std::filesystem::file_size(seg_path(name));
    EXPECT_LE(size, 1000u) << name;
    expect += (size - format::kSegmentHeaderBytes) / (format::kBatchHeaderBytes + format::kEntryMinBytes + 100);
  }
  EXPECT_EQ(expect, 30u);
  // Sealed segments have index files; the active one's is in memory.
  EXPECT_EQ(files(".index").size(), logs.size() - 1);
  EXPECT_EQ(files(".timeindex").size(), logs.size() - 1);
  const auto seen = read_all(*log, OffsetSpec::first(), 1 << 20, 7);
  ASSERT_EQ(seen.size(), 30u);
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].offset, i);
  // A batch larger than a segment gets one of its own.
  commit(*log, {entry(std::string(2000, 'y'))});
  commit(*log, {entry("after")});
  const auto all = read_all(*log, OffsetSpec::offset(StreamOffset{30}));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].body.size(), 2000u);
  EXPECT_EQ(all[1].body, "after");
}

TEST_F(StreamLog, ReadsAreBoundedByBytesAndEntriesButReturnAWholeBatch) {
  auto log = open_log(options());
  std::vector<StreamEntry> big;
  for (int i = 0; i < 10; ++i) big.push_back(entry(std::string(100, 'b')));
  commit(*log, std::move(big));
  for (int i = 0; i < 10; ++i) commit(*log, {entry("s" + std::to_string(i))});
  auto reader = StreamReader::open(*log, OffsetSpec::first());
  ASSERT_TRUE(reader.ok());
  // max_bytes smaller than the first batch: that batch all the same.
  auto r = reader->read(10, 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->batches.size(), 1u);
  EXPECT_EQ(r->entries(), 10u);
  // max_entries inside a batch: the rest of it comes with the next read.
  auto r2 = reader->read(1 << 20, 3);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->from.value, 10u);
  EXPECT_EQ(r2->entries(), 3u);
  auto r3 = reader->read(1 << 20, 1000);
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3->from.value, 13u);
  EXPECT_EQ(r3->next.value, 20u);
  EXPECT_TRUE(reader->at_end());
  // Entry by entry through a batch of several.
  auto one = StreamReader::open(*log, OffsetSpec::offset(StreamOffset{2}));
  ASSERT_TRUE(one.ok());
  for (std::uint64_t n = 2; n < 20; ++n) {
    auto x = one->read(1, 1);
    ASSERT_TRUE(x.ok());
    ASSERT_EQ(x->entries(), 1u);
    EXPECT_EQ(x->from.value, n);
  }
}

TEST_F(StreamLog, BoundsAreErrors) {
  PartitionOptions o = options();
  o.max_entry_bytes = 200;
  o.max_batch_bytes = 600;
  o.max_batch_entries = 4;
  auto log = open_log(o);
  auto too_big = log->append(std::vector{entry(std::string(200, 'x'))}, nullptr);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().message, "stream entry too large");
  std::vector<StreamEntry> five(5, entry("x"));
  auto too_many = log->append(five, nullptr);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().message, "stream batch too large");
  std::vector<StreamEntry> heavy(4, entry(std::string(150, 'x')));
  auto too_heavy = log->append(heavy, nullptr);
  ASSERT_FALSE(too_heavy.ok());
  EXPECT_EQ(too_heavy.error().message, "stream batch too large");
  auto empty = log->append(std::vector<StreamEntry>{}, nullptr);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(log->written_end().value, 0u);  // nothing consumed an offset
  EXPECT_EQ(commit(*log, {entry("fine")}), 0u);

  const auto refused = [&](auto change) {
    PartitionOptions bad = options();
    change(bad);
    auto r = PartitionLog::open(bad);
    EXPECT_FALSE(r.ok());
    if (!r.ok()) {
      EXPECT_EQ(r.error().message, "invalid stream options");
    }
  };
  refused([](PartitionOptions& b) { b.directory.clear(); });
  refused([](PartitionOptions& b) { b.max_segment_bytes = 10; });
  refused([](PartitionOptions& b) { b.max_segment_bytes = 8ull << 30; });
  refused([](PartitionOptions& b) { b.max_batch_bytes = 1u << 30; });
  refused([](PartitionOptions& b) { b.max_entry_bytes = b.max_batch_bytes; });
  refused([](PartitionOptions& b) { b.max_batch_entries = 0; });
  refused([](PartitionOptions& b) { b.max_open_files = 1; });
  refused([](PartitionOptions& b) { b.index_interval_bytes = 0; });
}

TEST_F(StreamLog, ManyReadersAtDifferentPositions) {
  PartitionOptions o = options();
  o.max_segment_bytes = 2000;
  o.max_open_files = 3;
  o.index_interval_bytes = 200;
  auto log = open_log(o);
  for (int b = 0; b < 100; ++b) {
    std::vector<StreamEntry> batch;
    for (int i = 0; i < 4; ++i) batch.push_back(entry("m" + std::to_string(b * 4 + i), "k"));
    commit(*log, std::move(batch));
  }
  ASSERT_GT(log->segment_count(), 5u);
  std::vector<StreamReader> readers;
  for (std::uint64_t i = 0; i < 400; ++i) {
    auto r = StreamReader::open(*log, OffsetSpec::offset(StreamOffset{i}));
    ASSERT_TRUE(r.ok());
    readers.push_back(std::move(*r));
  }
  // A reader is its position, nothing more.
  EXPECT_LE(sizeof(StreamReader), 40u);
  // Round-robin: each reader one entry at a time, all interleaved.
  std::vector<std::uint64_t> expect(400);
  for (std::uint64_t i = 0; i < 400; ++i) expect[i] = i;
  bool any = true;
  while (any) {
    any = false;
    for (std::size_t i = 0; i < readers.size(); ++i) {
      auto r = readers[i].read(64, 1);
      ASSERT_TRUE(r.ok()) << r.error().text();
      if (r->empty()) continue;
      any = true;
      r->for_each([&](const EntryView& e) {
        EXPECT_EQ(e.offset.value, expect[i]);
        EXPECT_EQ(e.body, "m" + std::to_string(expect[i]));
        ++expect[i];
        return true;
      });
      EXPECT_LE(log->open_files(), 3u);
    }
  }
  for (std::uint64_t i = 0; i < 400; ++i) EXPECT_EQ(expect[i], 400u);
  // The same from threads, concurrently with appends.
  std::atomic<bool> bad{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto r = StreamReader::open(*log, OffsetSpec::offset(StreamOffset{static_cast<std::uint64_t>(t * 50)}));
      if (!r.ok()) {
        bad = true;
        return;
      }
      std::uint64_t want = t * 50;
      while (want < 400) {
        auto x = r->read(300, 7);
        if (!x.ok()) {
          bad = true;
          return;
        }
        x->for_each([&](const EntryView& e) {
          if (e.offset.value != want++) bad = true;
          return true;
        });
      }
    });
  }
  for (int i = 0; i < 50; ++i) commit(*log, {entry("more")});
  for (auto& th : threads) th.join();
  EXPECT_FALSE(bad);
}

TEST_F(StreamLog, ATailReaderGetsNewEntriesWhenCommitted) {
  PartitionOptions o = options();
  std::vector<std::uint64_t> commits;
  o.on_commit = [&](StreamOffset end) { commits.push_back(end.value); };
  auto log = open_log(o);
  commit(*log, {entry("old")});
  auto reader = StreamReader::open(*log, OffsetSpec::next());
  ASSERT_TRUE(reader.ok());
  auto r = reader->read(1 << 20, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  commit(*log, {entry("new1"), entry("new2")});
  r = reader->read(1 << 20, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->from.value, 1u);
  EXPECT_EQ(r->entries(), 2u);
  EXPECT_EQ(commits, (std::vector<std::uint64_t>{1, 3}));
}

TEST_F(StreamLog, AFollowerAppendsTheLeadersBatchesByOffset) {
  PartitionOptions lo = options();
  lo.max_segment_bytes = 800;
  auto leader = open_log(lo);
  for (int i = 0; i < 20; ++i) commit(*leader, {entry("e" + std::to_string(i), "k" + std::to_string(i % 3), 0, {{"n", "v"}})});
  PartitionOptions fo = lo;
  fo.directory = dir_.path() + "/follower";
  auto follower = PartitionLog::open(fo);
  ASSERT_TRUE(follower.ok());
  // Fetch from the follower's end, append as received, until caught up.
  while ((*follower)->end_offset() < leader->end_offset()) {
    auto pos = leader->resolve(OffsetSpec::offset((*follower)->written_end()));
    ASSERT_TRUE(pos.ok());
    auto fetched = leader->read(*pos, 300, 1000);
    ASSERT_TRUE(fetched.ok());
    ASSERT_EQ(fetched->batches.front().base, (*follower)->written_end());
    auto t = (*follower)->append_replicated(fetched->bytes, nullptr);
    ASSERT_TRUE(t.ok()) << t.error().text();
    ASSERT_TRUE((*follower)->sync().ok());
  }
  const auto a = read_all(*leader, OffsetSpec::first());
  const auto b = read_all(**follower, OffsetSpec::first());
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].offset, b[i].offset);
    EXPECT_EQ(a[i].ts, b[i].ts);
    EXPECT_EQ(a[i].key, b[i].key);
    EXPECT_EQ(a[i].body, b[i].body);
  }
  // Out of order or damaged: refused whole.
  auto pos = leader->resolve(OffsetSpec::first());
  auto again = leader->read(*pos, 1 << 20, 1000);
  ASSERT_TRUE(again.ok());
  auto dup = (*follower)->append_replicated(again->bytes, nullptr);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().message, "bad replicated batch");
  commit(*leader, {entry("tail")});
  auto tail_pos = leader->resolve(OffsetSpec::offset(StreamOffset{20}));
  auto tail = leader->read(*tail_pos, 1 << 20, 1000);
  ASSERT_TRUE(tail.ok());
  std::string damaged = tail->bytes;
  damaged[damaged.size() - 1] ^= 1;
  EXPECT_FALSE((*follower)->append_replicated(damaged, nullptr).ok());
  EXPECT_FALSE((*follower)->append_replicated(std::string_view(tail->bytes).substr(0, 50), nullptr).ok());
  EXPECT_EQ((*follower)->written_end().value, 20u);
  EXPECT_TRUE((*follower)->append_replicated(tail->bytes, nullptr).ok());
}

TEST_F(StreamLog, LeaderEpochsAreStampedKeptAndNeverGoBack) {
  PartitionOptions o = options();
  o.max_segment_bytes = 300;
  auto leader = open_log(o);
  commit(*leader, {entry("e0")});
  ASSERT_TRUE(leader->set_leader_epoch(4).ok());
  for (int i = 1; i < 10; ++i) commit(*leader, {entry("e" + std::to_string(i))});
  auto stale = leader->set_leader_epoch(3);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().message, "stale leader epoch");
  auto pos = leader->resolve(OffsetSpec::first());
  auto all = leader->read(*pos, 1 << 20, 1000);
  ASSERT_TRUE(all.ok());
  std::vector<std::uint32_t> epochs;
  for (const auto& b : all->batches) epochs.push_back(b.epoch);
  ASSERT_GE(epochs.size(), 2u);
  EXPECT_EQ(epochs.front(), 0u);
  EXPECT_EQ(epochs.back(), 4u);
  // Known again after a restart, from the last segment or a sealed one's index.
  leader.reset();
  leader = open_log(o);
  EXPECT_EQ(leader->leader_epoch(), 4u);
  // A follower keeps the leader's epochs, and refuses to go back.
  PartitionOptions fo = o;
  fo.directory = dir_.path() + "/follower";
  auto follower = open_log(fo);
  ASSERT_TRUE(follower->set_leader_epoch(5).ok());
  auto refused = follower->append_replicated(all->bytes, nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().detail.find("epoch"), std::string::npos);
  PartitionOptions fo2 = o;
  fo2.directory = dir_.path() + "/follower2";
  auto follower2 = open_log(fo2);
  ASSERT_TRUE(follower2->append_replicated(all->bytes, nullptr).ok());
  ASSERT_TRUE(follower2->sync().ok());
  EXPECT_EQ(follower2->leader_epoch(), 4u);
}

TEST_F(StreamLog, AFollowerTruncatesToABatchBoundary) {
  PartitionOptions o = options();
  o.max_segment_bytes = 300;
  o.index_interval_bytes = 1;
  auto log = open_log(o);
  for (int i = 0; i < 20; ++i) commit(*log, {entry("e" + std::to_string(2 * i)), entry("e" + std::to_string(2 * i + 1))});
  ASSERT_GT(log->segment_count(), 4u);
  auto reader = StreamReader::open(*log, OffsetSpec::offset(StreamOffset{35}));
  ASSERT_TRUE(reader.ok());
  bool failed = false;
  ASSERT_TRUE(log->append(std::vector{entry("pending")}, [&](const CommitResult& r) { failed = !r.ok; }).ok());
  auto inside = log->truncate_to(StreamOffset{13});
  ASSERT_FALSE(inside.ok());
  EXPECT_NE(inside.error().detail.find("inside a batch"), std::string::npos);
  EXPECT_FALSE(log->truncate_to(StreamOffset{100}).ok());
  ASSERT_TRUE(log->truncate_to(StreamOffset{12}).ok());
  EXPECT_TRUE(failed);  // the uncommitted append
  EXPECT_EQ(log->end_offset().value, 12u);
  EXPECT_EQ(log->written_end().value, 12u);
  EXPECT_EQ(read_all(*log, OffsetSpec::first()).size(), 12u);
  const auto last = read_all(*log, OffsetSpec::last());
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[0].offset, 10u);
  // The reader past the cut waits at the new end.
  auto r = reader->read(1 << 20, 10);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(reader->next_offset().value, 12u);
  EXPECT_EQ(commit(*log, {entry("e12")}), 12u);
  r = reader->read(1 << 20, 10);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->entries(), 1u);
  log.reset();
  auto again = open_log(o);
  EXPECT_EQ(again->recovery().truncated_bytes, 0u);
  const auto seen = read_all(*again, OffsetSpec::first());
  ASSERT_EQ(seen.size(), 13u);
  EXPECT_EQ(seen.back().body, "e12");
  // Down to the first offset: empty, and appends start there.
  ASSERT_TRUE(again->truncate_to(StreamOffset{0}).ok());
  EXPECT_EQ(again->segment_count(), 1u);
  EXPECT_TRUE(read_all(*again, OffsetSpec::first()).empty());
  EXPECT_EQ(commit(*again, {entry("new")}), 0u);
}

// An Env whose files call a hook before each read: lets a test cut the
// log between a reader's lookup and its pread, deterministically.
class ReadHookEnv final : public store::Env {
 public:
  std::function<void()> before_read;  // runs once, then is cleared

  class HookFile final : public store::File {
   public:
    HookFile(std::unique_ptr<store::File> f, ReadHookEnv& env) : f_(std::move(f)), env_(env) {}
    store::IoStatus read_at(std::uint64_t o, std::span<char> out, std::size_t& n) override {
      if (auto hook = std::exchange(env_.before_read, nullptr)) hook();
      return f_->read_at(o, out, n);
    }
    store::IoStatus write_at(std::uint64_t o, std::span<const char> d) override { return f_->write_at(o, d); }
    store::IoStatus sync() override { return f_->sync(); }
    store::IoStatus truncate(std::uint64_t s) override { return f_->truncate(s); }
    store::IoStatus size(std::uint64_t& s) override { return f_->size(s); }

   private:
    std::unique_ptr<store::File> f_;
    ReadHookEnv& env_;
  };

  store::IoStatus create_dirs(const std::string& p) override { return base().create_dirs(p); }
  store::IoStatus list_dir(const std::string& p, std::vector<std::string>& n) override { return base().list_dir(p, n); }
  store::IoStatus open_file(const std::string& p, bool c, std::unique_ptr<store::File>& out) override {
    std::unique_ptr<store::File> f;
    auto st = base().open_file(p, c, f);
    if (st.ok()) out = std::make_unique<HookFile>(std::move(f), *this);
    return st;
  }
  store::IoStatus remove_file(const std::string& p) override { return base().remove_file(p); }
  store::IoStatus rename_file(const std::string& a, const std::string& b) override { return base().rename_file(a, b); }
  store::IoStatus sync_dir(const std::string& p) override { return base().sync_dir(p); }
  store::IoStatus lock_file(const std::string& p, std::unique_ptr<store::FileLock>& out) override {
    return base().lock_file(p, out);
  }

 private:
  static store::Env& base() { return store::Env::posix(); }
};

// A follower's cut between a reader's lookup and its pread: the reader
// finds its position again (at the new end), no corruption is reported.
TEST_F(StreamLog, AReadRacingACutFindsItsPositionAgain) {
  ReadHookEnv env;
  auto opened = PartitionLog::open(options(), env);
  ASSERT_TRUE(opened.ok());
  PartitionLog& log = **opened;
  for (int i = 0; i < 20; ++i) commit(log, {entry("e" + std::to_string(i))});
  auto reader = StreamReader::open(log, OffsetSpec::offset(StreamOffset{15}));
  ASSERT_TRUE(reader.ok());
  env.before_read = [&] { ASSERT_TRUE(log.truncate_to(StreamOffset{10}).ok()); };
  auto r = reader->read(1 << 20, 100);
  ASSERT_TRUE(r.ok()) << r.error().text();
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(reader->next_offset().value, 10u);
  // The same inside a batch read (the header was read before the cut).
  for (int i = 10; i < 20; ++i) commit(log, {entry("f" + std::to_string(i))});
  auto second = StreamReader::open(log, OffsetSpec::offset(StreamOffset{12}));
  ASSERT_TRUE(second.ok());
  int reads = 0;
  env.before_read = [&] {
    // The first read is the batch header; cut before the batch itself.
    if (++reads == 1) {
      env.before_read = [&] { ASSERT_TRUE(log.truncate_to(StreamOffset{11}).ok()); };
    }
  };
  auto r2 = second->read(1 << 20, 100);
  ASSERT_TRUE(r2.ok()) << r2.error().text();
  EXPECT_TRUE(r2->empty());
  EXPECT_EQ(second->next_offset().value, 11u);
}

TEST_F(StreamLog, GroupCommitFromManyThreads) {
  PartitionOptions o = options();
  o.fsync = store::FsyncPolicy::kAlways;
  o.max_segment_bytes = 4096;
  auto log = open_log(o);
  constexpr int kThreads = 4, kPer = 200;
  std::atomic<int> completed{0};
  std::atomic<bool> stop{false};
  std::mutex m;
  std::vector<std::uint64_t> offsets;
  std::thread committer([&] {
    while (!stop) {
      if (log->needs_sync()) {
        EXPECT_TRUE(log->sync().ok());
      } else {
        std::this_thread::yield();
      }
    }
  });
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        auto r = log->append(std::vector{entry(std::to_string(t) + ":" + std::to_string(i))},
                             [&](const CommitResult& c) {
                               EXPECT_TRUE(c.ok);
                               std::lock_guard lk(m);
                               offsets.push_back(c.first.value);
                               ++completed;
                             });
        EXPECT_TRUE(r.ok());
      }
    });
  }
  for (auto& p : producers) p.join();
  while (completed < kThreads * kPer) std::this_thread::yield();
  stop = true;
  committer.join();
  std::sort(offsets.begin(), offsets.end());
  ASSERT_EQ(offsets.size(), static_cast<std::size_t>(kThreads * kPer));
  for (std::size_t i = 0; i < offsets.size(); ++i) EXPECT_EQ(offsets[i], i);
  EXPECT_EQ(read_all(*log, OffsetSpec::first()).size(), offsets.size());
}

// The committer thread: appenders notify, it syncs; every completion
// arrives, in offset order per partition, and a forgotten log can go.
TEST_F(StreamLog, TheCommitterSyncsNotifiedPartitions) {
  PartitionOptions o = options();
  o.fsync = store::FsyncPolicy::kAlways;
  auto a = open_log(o);
  o.directory = dir_.path() + "/p1";
  auto b = open_log(o);
  std::mutex m;
  std::vector<std::uint64_t> got_a, got_b;
  {
    StreamCommitter committer;
    std::vector<std::thread> producers;
    for (int t = 0; t < 2; ++t) {
      producers.emplace_back([&, t] {
        PartitionLog& log = t == 0 ? *a : *b;
        auto& got = t == 0 ? got_a : got_b;
        for (int i = 0; i < 300; ++i) {
          auto r = log.append(std::vector{entry("x")}, [&](const CommitResult& c) {
            EXPECT_TRUE(c.ok);
            std::lock_guard lk(m);
            got.push_back(c.first.value);
          });
          EXPECT_TRUE(r.ok());
          committer.notify(log);
        }
      });
    }
    for (auto& p : producers) p.join();
    // The destructor syncs what was notified before it stops.
  }
  ASSERT_EQ(got_a.size(), 300u);
  ASSERT_EQ(got_b.size(), 300u);
  for (std::uint64_t i = 0; i < 300; ++i) {
    EXPECT_EQ(got_a[i], i);
    EXPECT_EQ(got_b[i], i);
  }
  StreamCommitter committer;
  ASSERT_TRUE(a->append(std::vector{entry("late")}, nullptr).ok());
  committer.notify(*a);
  committer.forget(*a);
  a.reset();  // safe: not queued, not being synced
}

class StreamLogFaults : public testing::StreamTest {
 protected:
  std::unique_ptr<PartitionLog> open_faulty(PartitionOptions o) {
    o.fsync = store::FsyncPolicy::kAlways;
    auto r = PartitionLog::open(o, env_);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().text());
    return r.ok() ? std::move(*r) : nullptr;
  }
  store::testing::FaultEnv env_;
};

TEST_F(StreamLogFaults, AFailedSyncFailsTheUncommittedAndReusesTheirOffsets) {
  PartitionOptions o = options();
  o.max_segment_bytes = 300;
  auto log = open_faulty(o);
  commit(*log, {entry("kept")});
  std::vector<CommitResult> results;
  // Enough to roll: the failed entries span segments.
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(log->append(std::vector{entry(std::string(100, 'f'))}, [&](const CommitResult& r) {
                      results.push_back(r);
                    }).ok());
  const auto segments_before = log->segment_count();
  EXPECT_GT(segments_before, 1u);
  env_.fail_syncs(EIO);
  auto st = log->sync();
  ASSERT_FALSE(st.ok());
  ASSERT_EQ(results.size(), 5u);
  for (const auto& r : results) EXPECT_FALSE(r.ok);
  EXPECT_EQ(log->end_offset().value, 1u);
  EXPECT_EQ(log->written_end().value, 1u);  // the failed offsets are free again
  env_.clear_faults();
  EXPECT_EQ(commit(*log, {entry("next")}), 1u);
  const auto seen = read_all(*log, OffsetSpec::first());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].body, "kept");
  EXPECT_EQ(seen[1].body, "next");
  // And so after a restart.
  log.reset();
  auto again = open_faulty(o);
  const auto after = read_all(*again, OffsetSpec::first());
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[1].body, "next");
}

TEST_F(StreamLogFaults, AFullDiskRefusesTheAppendAndKeepsNothingOfIt) {
  auto log = open_faulty(options());
  commit(*log, {entry("before")});
  env_.fail_writes(ENOSPC, 10);  // a partial write lands, as with a real ENOSPC
  auto r = log->append(std::vector{entry("lost")}, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("disk full", 0), 0u) << r.error().text();
  env_.clear_faults();
  EXPECT_EQ(commit(*log, {entry("after")}), 1u);
  log.reset();
  auto again = open_faulty(options());
  EXPECT_EQ(again->recovery().truncated_bytes, 0u);
  const auto seen = read_all(*again, OffsetSpec::first());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].body, "after");
}

}  // namespace
}  // namespace ferry::stream
