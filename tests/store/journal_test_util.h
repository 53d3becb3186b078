#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/journal.h"

namespace ferry::store::testing {

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-store-XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Collects completions; wait(n) blocks until n have run.
class Completions {
 public:
  AppendDone track(int tag = 0) {
    return [this, tag](const AppendResult& r) {
      std::lock_guard lk(mutex_);
      results_.push_back({tag, r});
      cv_.notify_all();
    };
  }
  std::vector<std::pair<int, AppendResult>> wait(std::size_t n) {
    std::unique_lock lk(mutex_);
    bool done = cv_.wait_for(lk, std::chrono::seconds(30), [&] { return results_.size() >= n; });
    EXPECT_TRUE(done) << "only " << results_.size() << " of " << n << " completions ran";
    return results_;
  }
  std::size_t count() {
    std::lock_guard lk(mutex_);
    return results_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::pair<int, AppendResult>> results_;
};

struct Rec {
  RecordType type;
  std::string payload;
  std::uint64_t segment;
  std::uint64_t offset;
  friend bool operator==(const Rec& a, const Rec& b) {
    return a.type == b.type && a.payload == b.payload;  // position not compared
  }
};

inline std::ostream& operator<<(std::ostream& os, const Rec& r) {
  return os << "{" << static_cast<int>(r.type) << " '" << r.payload << "' @" << r.segment << ":"
            << r.offset << "}";
}

inline std::vector<Rec> replay_all(Journal& j, ReplayStats* stats = nullptr,
                                   const std::function<void(const Rec&)>& also = {}) {
  std::vector<Rec> out;
  ReplayStats s = j.replay([&](const ReplayedRecord& r) {
    out.push_back(Rec{r.type, std::string(r.payload.data(), r.payload.size()), r.segment.value,
                      r.offset});
    if (also) also(out.back());
  });
  if (stats) *stats = s;
  return out;
}

inline std::span<const char> bytes(const std::string& s) { return {s.data(), s.size()}; }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
inline void write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline std::string segment_file(const std::string& dir, std::uint64_t id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu.seg", static_cast<unsigned long long>(id));
  return dir + "/journal/" + buf;
}

inline std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/journal")) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Waits (bounded) until pred holds; deletion happens on the I/O thread.
inline bool eventually(const std::function<bool()>& pred) {
  for (int i = 0; i < 3000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

}  // namespace ferry::store::testing
