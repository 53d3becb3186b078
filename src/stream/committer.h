#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "stream/partition_log.h"

// The group-commit thread for stream partitions: appenders call notify()
// after PartitionLog::append(), and this thread calls sync() on each
// notified partition, so one fdatasync covers every append made while the
// previous one ran (the journal's I/O thread does the same for its
// records). Completions therefore run on this thread; callers post them on
// to their shard, as with the journal.
//
// One committer may serve many partitions (they are synced one after the
// other; a slow disk delays all of them, never their readers). Thread-safe.

namespace ferry::stream {

class StreamCommitter {
 public:
  StreamCommitter();
  // Syncs what was notified, then stops the thread.
  ~StreamCommitter();
  StreamCommitter(const StreamCommitter&) = delete;
  StreamCommitter& operator=(const StreamCommitter&) = delete;

  // `log` has appends to commit. Any thread; cheap when already queued.
  void notify(PartitionLog& log);
  // Before `log` is destroyed: drops it from the queue and waits until a
  // sync of it in progress has returned. Not from a completion.
  void forget(PartitionLog& log);
  // Runs `job` on this thread, before queued syncs (small
  // durable writes that belong with the logs': consumer groups' committed
  // offsets, group_offsets.h). Any thread. Jobs queued at destruction run.
  void post(std::function<void()> job);

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<PartitionLog*> queued_;  // each at most once
  std::deque<std::function<void()>> jobs_;
  PartitionLog* busy_ = nullptr;      // being synced, outside the lock
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ferry::stream
