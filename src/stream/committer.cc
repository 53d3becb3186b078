#include "stream/committer.h"

#include <algorithm>

namespace ferry::stream {

StreamCommitter::StreamCommitter() : thread_([this] { run(); }) {}

StreamCommitter::~StreamCommitter() {
  {
    std::lock_guard lk(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StreamCommitter::notify(PartitionLog& log) {
  {
    std::lock_guard lk(mutex_);
    if (std::find(queued_.begin(), queued_.end(), &log) != queued_.end()) return;
    queued_.push_back(&log);
  }
  cv_.notify_all();
}

void StreamCommitter::forget(PartitionLog& log) {
  std::unique_lock lk(mutex_);
  queued_.erase(std::remove(queued_.begin(), queued_.end(), &log), queued_.end());
  cv_.wait(lk, [&] { return busy_ != &log; });
}

void StreamCommitter::post(std::function<void()> job) {
  {
    std::lock_guard lk(mutex_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_all();
}

void StreamCommitter::run() {
  std::unique_lock lk(mutex_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || !queued_.empty() || !jobs_.empty(); });
    if (queued_.empty() && jobs_.empty()) return;  // stopping, nothing left
    // Jobs first: each coalesces a stream's writes (GroupOffsetFile), so
    // they cannot starve the syncs.
    if (!jobs_.empty()) {
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      lk.unlock();
      job();
      lk.lock();
      continue;
    }
    busy_ = queued_.front();
    queued_.pop_front();
    lk.unlock();
    // A failed sync has already failed its appends' completions; the log
    // logged it. Appends made during this sync notify again.
    (void)busy_->sync();
    lk.lock();
    busy_ = nullptr;
    cv_.notify_all();
  }
}

}  // namespace ferry::stream
