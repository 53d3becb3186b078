#include "stream/compactor.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace ferry::stream {

StreamCompactor::StreamCompactor(std::function<std::int64_t()> clock)
    : clock_(std::move(clock)), thread_([this] { run(); }) {}

StreamCompactor::~StreamCompactor() {
  {
    std::lock_guard lk(mutex_);
    stop_ = true;
    queued_.clear();
  }
  cv_.notify_all();
  thread_.join();
}

void StreamCompactor::request(PartitionLog& log) {
  {
    std::lock_guard lk(mutex_);
    if (stop_ || busy_ == &log || std::find(queued_.begin(), queued_.end(), &log) != queued_.end()) return;
    queued_.push_back(&log);
  }
  cv_.notify_all();
}

void StreamCompactor::forget(PartitionLog& log) {
  std::unique_lock lk(mutex_);
  queued_.erase(std::remove(queued_.begin(), queued_.end(), &log), queued_.end());
  cv_.wait(lk, [&] { return busy_ != &log; });
}

std::uint64_t StreamCompactor::runs() const {
  std::lock_guard lk(mutex_);
  return runs_;
}

void StreamCompactor::run() {
  std::unique_lock lk(mutex_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || !queued_.empty(); });
    if (stop_) return;
    busy_ = queued_.front();
    queued_.pop_front();
    lk.unlock();
    // A failure leaves the old segments (compact() is crash-safe); the
    // next request tries again.
    auto r = busy_->compact(clock_());
    if (!r) spdlog::error("stream compaction failed: {}", r.error().text());
    lk.lock();
    ++runs_;
    busy_ = nullptr;
    cv_.notify_all();
  }
}

}  // namespace ferry::stream
