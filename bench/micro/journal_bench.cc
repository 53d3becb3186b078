// The journal's append path: encoding a record (length, CRC32C, seal) and
// appending through the group-commit I/O thread, without a disk sync (page
// cache, tmpfs when there is one) and with one (fsync = always, 256 appends
// outstanding as a producer's receipt window keeps them).
#include <benchmark/benchmark.h>

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

#include "allocation_counter.h"
#include "store/journal.h"
#include "store/record_codec.h"

namespace ferry::micro {
namespace {

namespace fs = std::filesystem;

// A fresh directory under `base`, removed on destruction.
class TempDir {
 public:
  explicit TempDir(const fs::path& base) {
    std::string tmpl = (base / "ferry-micro-XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void BM_EncodeRecord(benchmark::State& state) {
  const std::string payload(static_cast<std::size_t>(state.range(0)), 'x');
  std::string out;
  out.reserve(payload.size() + 64);
  const std::uint64_t before = allocations();
  for (auto _ : state) {
    out.clear();
    store::encode_record(out, store::RecordType::kMessage, std::span<const char>(payload.data(), payload.size()),
                         store::record_seal(store::SegmentId{7}));
    benchmark::DoNotOptimize(out.data());
  }
  report_allocations(state, before);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload.size()));
}

// Appends with at most `window` outstanding, as a producer with a receipt
// window does; counts completions.
void append_loop(benchmark::State& state, store::FsyncPolicy fsync, const fs::path& base, int window) {
  TempDir dir(base);
  store::JournalOptions o;
  o.directory = dir.path();
  o.fsync = fsync;
  auto opened = store::Journal::open(o);
  if (!opened) {
    state.SkipWithError(opened.error().text().c_str());
    return;
  }
  std::unique_ptr<store::Journal> journal = std::move(*opened);
  journal->replay({});
  const std::string payload(static_cast<std::size_t>(state.range(0)), 'x');
  std::atomic<std::int64_t> done{0};
  std::int64_t issued = 0;
  auto on_done = [&done](const store::AppendResult&) { done.fetch_add(1, std::memory_order_release); };
  const std::uint64_t before = allocations();
  for (auto _ : state) {
    while (issued - done.load(std::memory_order_acquire) >= window) std::this_thread::yield();
    journal->append(store::RecordType::kMessage, std::span<const char>(payload.data(), payload.size()), on_done);
    ++issued;
  }
  while (done.load(std::memory_order_acquire) < issued) std::this_thread::yield();
  report_allocations(state, before);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload.size()));
  journal->close();
}

fs::path memory_dir() { return fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path(); }

void BM_JournalAppendNoSync(benchmark::State& state) {
  append_loop(state, store::FsyncPolicy::kNever, memory_dir(), 4096);
}

void BM_JournalAppendFdatasync(benchmark::State& state) {
  // A real disk: /var/tmp (tmpfs would make the sync free).
  append_loop(state, store::FsyncPolicy::kAlways, fs::path("/var/tmp"), 256);
}

BENCHMARK(BM_EncodeRecord)->Arg(1024)->Arg(65536);
BENCHMARK(BM_JournalAppendNoSync)->Arg(1024)->UseRealTime();
BENCHMARK(BM_JournalAppendFdatasync)->Arg(1024)->UseRealTime()->MinTime(2.0);

}  // namespace
}  // namespace ferry::micro
