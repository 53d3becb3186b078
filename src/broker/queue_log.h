#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/result.h"

// The queues made by traffic (a SEND or SUBSCRIBE to a new /queue/NAME, a
// COMMIT, the management API's publish), remembered across restarts and
// kill -9 as RabbitMQ remembers a durable queue, empty or not:
// `<data-dir>/queues.log`, an append-only file of creation and deletion
// records (byte format: docs/journal.md, "queues.log").
//
// Why not the declared-queues file: that one is rewritten whole per change,
// on shard 0's loop; fine for an operator's declarations, not for 100,000
// queues made by producers. Here a creation costs one short line appended
// by a writer thread of its own, with group commit: one write and one
// fdatasync cover every record queued while the previous sync ran, and the
// shard's loop only queues the record. Deleting appends a deletion record,
// so a deleted queue stays gone. At start-up open() reads the file, folds
// the records into the live set and rewrites the file with only that set
// (compaction), so the file never grows past one line per live queue plus
// the records of one run.
//
// Threading: open() and entries() at start-up only (before the loops run);
// created()/deleted()/flush() from any thread; each `done` runs on the
// writer thread once the record is durable (or failed: then nothing of its
// batch counts; it is cut from the file), in append order. Callers post on
// to their shard.
namespace ferry::broker {

class QueueLog {
 public:
  using Entry = std::pair<std::string, std::string>;  // vhost, name
  using Done = std::function<void(const Status&)>;

  // `sync`: fdatasync each batch (fsync = never: written to the OS only,
  // as the journal's own records).
  QueueLog(std::string data_dir, bool sync);
  // Writes what is queued (their `done`s run), then stops the writer.
  ~QueueLog();
  QueueLog(const QueueLog&) = delete;
  QueueLog& operator=(const QueueLog&) = delete;

  // Reads and compacts the file (missing: no queues), opens it for appends
  // and starts the writer. Returns a one-line summary for the log. A record
  // that does not check out before the last batch is corruption: an Error
  // naming the file and offset (a torn last batch is cut off and reported
  // in the summary).
  Result<std::string> open();
  // The live queues found by open(), sorted.
  const std::set<Entry>& entries() const { return entries_; }

  // Appends a record; `done` (may be empty) once it is durable.
  void created(std::string vhost, std::string name, Done done);
  void deleted(std::string vhost, std::string name, Done done);
  // `done` once every record appended before this call is durable.
  void flush(Done done);

  // Records appended since open() (written or queued); for tests/metrics.
  std::uint64_t appended() const;
  std::uint64_t syncs() const;

 private:
  struct Pending {
    char op = 0;  // '+' created, '-' deleted, 0: a flush marker
    std::string vhost, name;
    Done done;
  };
  void push(Pending p);
  void run();
  Status write_batch(const std::vector<Pending>& batch);

  std::string path_, dir_;
  bool sync_;
  std::set<Entry> entries_;
  int fd_ = -1;
  std::uint64_t size_ = 0;  // writer thread only after open(): bytes that count

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Pending> pending_;  // GUARDED_BY(mu_)
  bool stop_ = false;             // GUARDED_BY(mu_)
  std::uint64_t appended_ = 0;    // GUARDED_BY(mu_)
  std::uint64_t syncs_ = 0;       // GUARDED_BY(mu_)
  std::thread writer_;
};

}  // namespace ferry::broker
