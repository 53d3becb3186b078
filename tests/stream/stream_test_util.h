#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "stream/partition_log.h"
#include "stream/stream_reader.h"

// Helpers for the stream tests: a temporary partition directory, entries
// that read like the domain, and append-then-commit in one call.

namespace ferry::stream::testing {

namespace fs = std::filesystem;

inline StreamEntry entry(std::string body, std::optional<std::string> key = std::nullopt, std::int64_t ts = 0,
                         std::vector<std::pair<std::string, std::string>> headers = {}) {
  StreamEntry e;
  e.body = std::move(body);
  e.key = std::move(key);
  e.timestamp_ms = ts;
  e.headers = std::move(headers);
  return e;
}

// What a reader saw of one entry (owning copies).
struct Seen {
  std::uint64_t offset;
  std::int64_t ts;
  std::optional<std::string> key;
  std::string body;
};

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ferry-stream-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class StreamTest : public ::testing::Test {
 protected:
  PartitionOptions options() {
    PartitionOptions o;
    o.directory = dir_.path() + "/p0";
    o.fsync = store::FsyncPolicy::kNever;  // tests of durability use FaultEnv
    o.clock = [this] { return now_; };
    return o;
  }
  std::unique_ptr<PartitionLog> open_log(const PartitionOptions& o) {
    auto r = PartitionLog::open(o);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().text());
    return r.ok() ? std::move(*r) : nullptr;
  }
  // Appends one batch and commits it; the ticket's first offset.
  static std::uint64_t commit(PartitionLog& log, std::vector<StreamEntry> entries) {
    bool done = false;
    auto t = log.append(entries, [&](const CommitResult& r) {
      EXPECT_TRUE(r.ok) << r.error;
      done = true;
    });
    EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().text());
    EXPECT_TRUE(log.sync().ok());
    EXPECT_TRUE(done);
    return t.ok() ? t->first.value : UINT64_MAX;
  }
  // Everything from `spec` to the end offset, `max_entries` per read.
  static std::vector<Seen> read_all(PartitionLog& log, const OffsetSpec& spec, std::size_t max_bytes = 1 << 20,
                                    std::size_t max_entries = 1000) {
    std::vector<Seen> out;
    auto reader = StreamReader::open(log, spec);
    EXPECT_TRUE(reader.ok()) << (reader.ok() ? "" : reader.error().text());
    if (!reader.ok()) return out;
    for (int guard = 0; guard < 1000000; ++guard) {
      auto r = reader->read(max_bytes, max_entries);
      EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().text());
      if (!r.ok() || r->empty()) break;
      r->for_each([&](const EntryView& e) {
        out.push_back(Seen{e.offset.value, e.timestamp_ms,
                           e.key ? std::optional<std::string>(std::string(*e.key)) : std::nullopt,
                           std::string(e.body)});
        return true;
      });
    }
    return out;
  }
  std::vector<std::string> files(const std::string& suffix) const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_.path() + "/p0"))
      if (e.path().filename().string().ends_with(suffix)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string seg_path(const std::string& name) const { return dir_.path() + "/p0/" + name; }

  TempDir dir_;
  std::int64_t now_ = 1'700'000'000'000;
};

}  // namespace ferry::stream::testing
