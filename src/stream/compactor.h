#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "stream/partition_log.h"

// The thread that compacts stream partitions (x-cleanup-policy:compact,
// docs/streams.md "Compaction"), so that reading and rewriting whole
// segments never runs on a shard's loop nor on the group-commit thread
// (receipts do not wait for it). The owning shard asks for a partition
// periodically; PartitionLog::compact returns at once when there is nothing
// new, so asking often is cheap. Partitions are compacted one at a time.
// Thread-safe.

namespace ferry::stream {

class StreamCompactor {
 public:
  // `clock`: ms since the epoch for the tombstones' delete retention.
  explicit StreamCompactor(std::function<std::int64_t()> clock);
  // Finishes the compaction in progress (queued ones are dropped), then
  // stops the thread.
  ~StreamCompactor();
  StreamCompactor(const StreamCompactor&) = delete;
  StreamCompactor& operator=(const StreamCompactor&) = delete;

  // Compact `log` soon. Any thread; nothing when it is already queued.
  void request(PartitionLog& log);
  // Before `log` is destroyed: drops it from the queue and waits until a
  // compaction of it in progress has returned.
  void forget(PartitionLog& log);
  std::uint64_t runs() const;  // compact() calls made (tests)

 private:
  void run();

  std::function<std::int64_t()> clock_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<PartitionLog*> queued_;  // each at most once
  PartitionLog* busy_ = nullptr;      // being compacted, outside the lock
  std::uint64_t runs_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ferry::stream
