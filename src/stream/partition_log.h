#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/inline_function.h"
#include "common/result.h"
#include "store/env.h"
#include "store/journal.h"
#include "stream/batch_codec.h"
#include "stream/entry.h"
#include "stream/offset_spec.h"
#include "stream/read_result.h"
#include "stream/retention.h"
#include "stream/segment_index.h"
#include "stream/stream_format.h"

// One partition of a stream: an append-only log of entry batches in a
// directory of segment files named by their base offset, each with a
// sparse offset index and a time index. The byte format and the rules are
// docs/streams.md.
//
// Writing: append() assigns the batch's offsets and writes it to the page
// cache (pwrite) at once, in the caller's thread; sync() makes everything
// written so far durable with one fdatasync (group commit: appends go on
// while a sync runs and are covered by the next one) and then runs the
// completions, in order, on the syncing thread. A completion with ok=true
// means the entries are on disk (FsyncPolicy::kAlways; kNever skips the
// fdatasync): the moment a RECEIPT may be sent. A failed sync fails every
// entry not yet committed and cuts them from the files, so a later append
// reuses their offsets: offsets stay contiguous, and no reader ever saw them.
//
// Reading: only committed entries are visible (the "end offset", the high
// watermark a follower also reads up to). A reader is a ReaderPosition
// (segment + file position + next offset, 32 bytes); read() preads whole
// batches from the page cache and advances it. Readers never take part in
// writing: a slow one holds nothing but its position.
//
// Threading: every method may be called from any thread. append() calls
// are serialized by the log's mutex (held for the pwrite); sync() is meant
// for one committer thread at a time (concurrent calls serialize); reads
// and resolves take the mutex only to look up a segment, then pread
// without it. Completions and on_commit run without the log's mutex and
// may append or read, but not call sync() or close() (sync() is held while
// they run, so that completions of one partition run in offset order).
//
// Bounds: entry, batch and segment sizes, entries per batch, and open file
// handles per partition are options; violations are Errors, never crashes.
// The number of readers is the caller's to bound (each costs its position).

namespace ferry::stream {

struct PartitionOptions {
  std::string directory;  // one per partition; created if missing
  // x-stream-max-segment-size-bytes (RabbitMQ's default, 500 MB): a segment
  // holding at least one batch rolls when the next batch would take it past
  // this. One batch larger than it gets a segment to itself.
  std::uint64_t max_segment_bytes = 500'000'000;
  std::uint32_t max_entry_bytes = 16u << 20;   // one encoded entry
  std::uint32_t max_batch_bytes = 32u << 20;   // one batch, header included
  std::uint32_t max_batch_entries = 65536;
  std::uint32_t index_interval_bytes = 4096;   // sparseness of both indexes
  // Segment files the partition keeps open (the active one included; at
  // least 2). Older segments are opened for a read and closed again least
  // recently used first; a read in progress keeps its file until it ends.
  std::uint32_t max_open_files = 16;
  store::FsyncPolicy fsync = store::FsyncPolicy::kAlways;  // kInterval: as kAlways here
  RetentionPolicy retention;
  // Compaction's offset map (Kafka's log.cleaner.dedupe.buffer.size): at
  // most this many bytes of keys' last offsets per run; a log written with
  // more distinct keys since the last run is compacted in several runs.
  std::uint64_t compaction_buffer_bytes = 128u << 20;
  // An empty partition's first offset (a follower starting from its
  // leader's first offset). Ignored when segments exist.
  StreamOffset initial_offset{0};
  // Wall clock, ms since the epoch: the timestamp of entries that carry
  // none. Tests inject one. Empty: the system clock.
  std::function<std::int64_t()> clock;
  // Called after a sync committed entries, with the new end offset, from
  // the syncing thread without locks: wakes readers waiting at the tail.
  std::function<void(StreamOffset end)> on_commit;
};

// Where an append's entries went: offsets [first, first + count).
struct AppendTicket {
  StreamOffset first;
  std::uint32_t count = 0;
};

struct CommitResult {
  bool ok = true;
  std::string error;  // "disk full: ...", "stream write failed: ..."
  StreamOffset first;
  std::uint32_t count = 0;
};
using CommitDone = InlineFunction<void(const CommitResult&), 120>;

// A reader's place in a partition: the next entry it gets, the segment
// holding it (by base offset) and the file position of the batch holding
// it. Copyable, 24 bytes; the log validates it on every use (a position in
// a segment deleted by retention moves to the first offset).
struct ReaderPosition {
  StreamOffset next;
  StreamOffset segment;
  std::uint64_t position = 0;
  // The segment file's generation the position was given out for: a
  // compaction rewrites a segment (file positions move), and a position of
  // an older generation is found again by its offset.
  std::uint32_t generation = 0;
};

// What open() found and did (docs/streams.md "Recovery").
struct RecoveryStats {
  std::uint64_t segments = 0;
  std::uint64_t truncated_bytes = 0;   // torn/corrupt tail cut off the last segment
  std::uint64_t indexes_rebuilt = 0;   // sealed segments whose index files were missing or wrong
  std::string report;                  // one line per thing cut or rebuilt
};

struct RetentionStats {
  std::uint64_t segments_deleted = 0;
  std::uint64_t bytes_deleted = 0;
  StreamOffset first;  // the first offset kept
};

// What one compact() did (docs/streams.md "Compaction").
struct CompactionStats {
  std::uint64_t segments_rewritten = 0;
  std::uint64_t entries_removed = 0;   // superseded by a later entry of the same key, or expired tombstones
  std::uint64_t bytes_before = 0;      // of the rewritten segments
  std::uint64_t bytes_after = 0;
  std::uint64_t tombstones_kept = 0;   // not yet past delete_retention_ms
  std::uint64_t keys_mapped = 0;       // keys in the offset map (bounded by compaction_buffer_bytes)
  bool skipped = false;                // nothing new since the last run
};

class PartitionLog {
 public:
  // Opens (creating) the directory and recovers it: checks every segment
  // header, loads sealed segments' indexes (rebuilding missing or wrong ones
  // from their segment), scans the last segment batch by batch and cuts a
  // torn or corrupt tail. Fails with an Error naming the segment, position
  // and reason on corruption anywhere but the last segment's tail, on a gap
  // in offsets between segments, and on options outside the format's limits.
  // `env` must outlive the log.
  static Result<std::unique_ptr<PartitionLog>> open(const PartitionOptions& options,
                                                    store::Env& env = store::Env::posix());
  ~PartitionLog();
  PartitionLog(const PartitionLog&) = delete;
  PartitionLog& operator=(const PartitionLog&) = delete;

  const RecoveryStats& recovery() const { return recovery_; }

  // Appends `entries` (1..max_batch_entries, each at most max_entry_bytes,
  // together at most max_batch_bytes) as one batch and returns its offsets.
  // `done` runs once the batch is committed (or failed) by a sync(). An
  // Error (nothing written, `done` not called) for a bound or a failed write.
  Result<AppendTicket> append(std::span<const StreamEntry> entries, CommitDone done);
  // A follower's append: whole batches exactly as the leader's read() gave
  // them (ReadResult::bytes), the first starting at written_end(). Each is
  // checked (CRC, entries, contiguous offsets, epochs never decreasing)
  // before anything is written; their epochs and timestamps are kept.
  Result<AppendTicket> append_replicated(std::span<const char> batches, CommitDone done);

  // Commits everything appended before it started (one fdatasync per file
  // touched, the directory when a segment was created) and runs those
  // appends' completions. An Error when the disk failed (the uncommitted
  // appends failed too, and were cut). Cheap when there is nothing to do.
  Status sync();
  bool needs_sync() const;

  // A follower's cut (the cluster: its log diverged from a new leader's):
  // removes every entry at or after `offset`, committed or not. `offset`
  // must be a batch boundary in [first offset, written end]. Appends not
  // yet committed fail (their completions run with ok=false); readers past
  // the cut move to the new end on their next read. Durable on return
  // (the cut file is synced; deleted segments' directory entries with the
  // next sync).
  Status truncate_to(StreamOffset offset);

  // The leader epoch stamped on batches appended from now on (the cluster
  // sets it when this broker becomes the partition's leader). It never
  // goes down: a lower value is refused.
  Status set_leader_epoch(std::uint32_t epoch);
  std::uint32_t leader_epoch() const;

  StreamOffset first_offset() const;  // the oldest entry kept (== end_offset() when empty)
  StreamOffset end_offset() const;    // after the last committed entry
  StreamOffset written_end() const;   // after the last appended entry (committed or not)

  // A reader position for `spec` (clamped into [first, end]).
  Result<ReaderPosition> resolve(const OffsetSpec& spec);
  // Reads whole committed batches from `pos` (at most about max_bytes, but
  // always a whole batch when one is there; at most max_entries entries
  // counted from pos.next) and advances `pos`. Empty at the end. An Error
  // on a corrupt batch (named by segment and position) or a failed read.
  Result<ReadResult> read(ReaderPosition& pos, std::size_t max_bytes, std::size_t max_entries);

  // Deletes whole segments, oldest first and never the active one, while
  // the partition is over retention.max_bytes or the segment's newest entry
  // is older than now_ms - retention.max_age_ms.
  Result<RetentionStats> apply_retention(std::int64_t now_ms);

  // Kafka's cleanup.policy=compact: rewrites each sealed segment (never the
  // active one, nor the one holding the last committed batch) keeping, for
  // each key, only its last entry in the committed log; keyless entries
  // stay. A keyed entry with an empty body is a tombstone: it deletes its
  // key, and goes itself once its timestamp is older than
  // now_ms - retention.delete_retention_ms. Kept entries keep their offsets;
  // removed ones become hole batches. Each segment is written to
  // <name>.log.tmp, synced and renamed over the old one, so a crash leaves
  // the old segment or the new one. The reading and writing run without the
  // log's mutex (appends and reads go on); the swap takes it briefly. Skips
  // (cheaply) when no segment was sealed since the last run and no
  // tombstone was waiting. One compact() at a time.
  Result<CompactionStats> compact(std::int64_t now_ms);

  std::uint64_t disk_bytes() const;
  std::uint64_t segment_count() const;
  std::uint32_t open_files() const;  // segment files held open by the log
  std::size_t index_memory_bytes() const;

  // Commits what is pending (a last sync), writes the active segment's
  // index files and closes the files. Not from a completion.
  void close();

 private:
  struct Segment;
  struct Pending;
  PartitionLog(const PartitionOptions& options, store::Env& env);
  Status recover();

  std::int64_t now_ms() const;
  std::string log_path(StreamOffset base) const;
  std::string offset_index_path(StreamOffset base) const;
  std::string time_index_path(StreamOffset base) const;

  Status check_entries(std::span<const StreamEntry> entries) const;
  Status roll_locked();
  Status create_segment_locked(StreamOffset base);
  void write_index_files(const Segment& s);
  void remove_index_files(StreamOffset base);
  Result<std::shared_ptr<store::File>> acquire_locked(Segment& s);
  void close_idle_files_locked();
  void rollback_locked(std::vector<Pending>& failed);
  Result<AppendTicket> write_batch_locked(std::string_view batch, const BatchHeader& h, CommitDone done);
  Segment* segment_for_locked(StreamOffset offset);
  Result<ReaderPosition> locate(StreamOffset offset);
  ReaderPosition first_position_locked() const;
  Result<ReaderPosition> locate_time(std::int64_t timestamp_ms);
  ReaderPosition end_position_locked() const;

  const PartitionOptions options_;
  store::Env& env_;
  RecoveryStats recovery_;

  mutable std::mutex mutex_;      // a leaf: nothing else is taken while held
  std::mutex sync_mutex_;         // serializes sync(); taken before mutex_
  std::map<StreamOffset, std::unique_ptr<Segment>> segments_;  // by base offset
  StreamOffset next_;             // written end
  StreamOffset committed_;        // end offset (readers' limit)
  StreamOffset committed_last_batch_;
  StreamOffset committed_segment_;   // base of the segment holding the end offset
  std::int64_t last_timestamp_ = 0;  // of the last entry written
  std::uint32_t epoch_ = 0;          // stamped on appends; >= every batch's epoch
  std::vector<Pending> pending_;     // appended, not yet committed, oldest first
  bool dir_dirty_ = false;           // a segment file was created since the last sync
  bool cut_owed_ = false;            // a failed write's bytes may still be in the active file
  std::uint64_t use_tick_ = 0;
  std::uint32_t open_files_ = 0;
  bool closed_ = false;
  std::uint32_t generations_ = 0;    // segment rewrites so far (ReaderPosition::generation)
  std::mutex compact_mutex_;         // one compact() at a time; taken before mutex_
  StreamOffset compacted_through_;   // the sealed part compact() last looked at ends here
  bool tombstones_waiting_ = false;  // the last compact() kept a tombstone that will expire
};

}  // namespace ferry::stream
