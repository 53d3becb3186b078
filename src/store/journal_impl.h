#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/env.h"
#include "store/journal.h"
#include "store/record_codec.h"
#include "store/segment_writer.h"

// The Journal implementation: group commit on one I/O thread, recovery at
// open, liveness-driven segment deletion. Format and rules: docs/journal.md.
//
// Locking: mutex_ guards everything marked GUARDED_BY(mutex_). It is a leaf
// lock (nothing else is taken while it is held) and is never held while a
// completion or a visitor runs, so both may call back into the journal.
// Members marked "I/O thread" are touched only by io_loop() once it started
// (and by open() before that).

namespace ferry::store {

#define FERRY_GUARDED_BY(m)  // documentation only (no clang thread-safety analysis here)

class JournalImpl final : public Journal {
 public:
  std::uint64_t segment_size() const override { return options_.segment_size; }
  JournalImpl(const JournalOptions& options, Env& env);
  ~JournalImpl() override;

  // Locks the directory, scans the segments (cutting a torn tail), starts the
  // I/O thread. An Error when the journal cannot be used.
  Status open();

  ReplayStats replay(const std::function<void(const ReplayedRecord&)>& visit) override;
  SegmentId append(RecordType type, std::span<const char> payload, AppendDone done) override;
  SegmentId append_batch(const std::vector<std::pair<RecordType, std::string>>& records,
                         AppendDone done) override;
  SegmentId append_retained(RecordType type, std::span<const char> payload, std::uint32_t retains,
                            AppendDone done) override;
  SegmentId append_batch_retained(const std::vector<std::pair<RecordType, std::string>>& records,
                                  std::uint32_t retains, AppendDone done) override;
  void flush(AppendDone done) override;
  void retain(SegmentId segment) override;
  void release(SegmentId segment) override;
  std::uint64_t disk_bytes() const override;
  std::uint64_t segment_count() const override;
  SegmentId append_located(RecordType type, std::span<const char> payload, std::uint32_t retains,
                           std::uint64_t& offset, AppendDone done) override;
  bool read_at(SegmentId segment, std::uint64_t offset, const ReadVisitor& visit) override;
  bool scan(SegmentId segment, const ReadVisitor& visit) override;
  std::uint64_t read_span(SegmentId segment, std::uint64_t offset, std::uint64_t max_bytes,
                          const SpanVisitor& visit) override;
  SegmentId oldest_segment() const override;
  SegmentId tail_segment() const override;
  std::uint64_t fsync_count() const override { return fsync_count_.load(); }
  FsyncHistogram fsync_latency() const override;
  void close() override;

 private:
  // Encoded records bound for one segment, with their completions.
  struct Chunk {
    SegmentId segment;
    std::string bytes;
    std::vector<AppendDone> done;
    std::vector<std::uint32_t> sizes;  // of each record in `bytes`, parallel to `done`
  };
  struct SegmentInfo {
    std::uint64_t live = 0;     // the caller's retain count
    std::uint64_t bytes = 0;    // file size as far as we wrote it
    bool exists = false;        // a file was created for it
    bool deleting = false;      // queued for unlink: no retain allowed
  };

  std::string segment_path(SegmentId id) const;
  std::string free_path(SegmentId id) const;  // a dead segment's file kept for reuse
  Status scan_existing();
  SegmentId enqueue(RecordType type, std::span<const char> payload, std::uint32_t crc,
                    std::uint32_t retains, AppendDone done, std::uint64_t* offset = nullptr);
  // Chunks are reused, buffers and completion lists with their capacity:
  // appending allocates nothing in steady state.
  static constexpr std::size_t kSpareChunks = 8;
  static constexpr std::size_t kSpareChunkBytes = 1 << 20;
  Chunk spare_chunk_locked(SegmentId segment);
  void recycle_chunks(std::vector<Chunk>& batch);
  void io_loop();
  void write_batch(std::vector<Chunk>& batch);
  IoStatus switch_to(SegmentId id);
  IoStatus open_new_segment(const std::string& path, std::unique_ptr<File>& file, bool& recycled);
  IoStatus sync_writer();
  void maybe_interval_sync(bool force);
  void delete_segments(const std::vector<SegmentId>& ids);
  void update_disk_bytes();  // caller holds mutex_
  void collect_deletable_locked();
  std::string failure_text(const IoStatus& st) const;

  const JournalOptions options_;
  Env& env_;
  const std::string journal_dir_;
  std::unique_ptr<FileLock> lock_;
  std::vector<SegmentId> found_;  // segments present at open, oldest first (for replay)
  // Segments of format version 1 found at open (unsealed records); every
  // other segment's records carry record_seal(id). Fixed once open.
  std::set<SegmentId> unsealed_;
  std::uint32_t seal_of(SegmentId id) const { return unsealed_.count(id) ? 0 : record_seal(id); }
  ReplayStats open_stats_;        // what open cut or skipped

  // I/O thread.
  std::unique_ptr<SegmentWriter> writer_;
  std::int64_t last_sync_ms_ = 0;
  bool failing_ = false;  // last batch failed (log transitions only)
  std::vector<std::string> free_files_;  // at most options_.recycle_files

  mutable std::mutex mutex_;
  std::condition_variable work_cv_;
  // Oldest first; a vector (usually a chunk or two) keeps its capacity.
  std::vector<Chunk> pending_ FERRY_GUARDED_BY(mutex_);
  std::vector<Chunk> spare_chunks_ FERRY_GUARDED_BY(mutex_);
  // I/O thread only: reused per batch.
  std::vector<Chunk> io_batch_;
  std::vector<std::uint64_t> io_starts_;
  std::vector<std::string_view> io_parts_;
  SegmentId tail_segment_ FERRY_GUARDED_BY(mutex_);    // where the next record lands
  std::uint64_t tail_bytes_ FERRY_GUARDED_BY(mutex_) = 0;  // its size incl. pending records
  SegmentId active_segment_ FERRY_GUARDED_BY(mutex_);  // the I/O thread's; never deleted
  std::map<SegmentId, SegmentInfo> segments_ FERRY_GUARDED_BY(mutex_);
  std::vector<SegmentId> to_delete_ FERRY_GUARDED_BY(mutex_);
  bool replayed_ FERRY_GUARDED_BY(mutex_) = false;  // also: deletion enabled
  bool appended_ FERRY_GUARDED_BY(mutex_) = false;
  bool closed_ FERRY_GUARDED_BY(mutex_) = false;

  std::atomic<std::uint64_t> fsync_count_{0};
  std::array<std::atomic<std::uint64_t>, kFsyncBuckets.size() + 1> fsync_buckets_{};
  std::atomic<std::uint64_t> fsync_nanos_{0};
  std::atomic<std::uint64_t> disk_bytes_{0};  // sum of existing segments' bytes; see disk_bytes()
  std::thread io_thread_;
};

}  // namespace ferry::store
