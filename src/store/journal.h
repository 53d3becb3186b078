#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/inline_function.h"
#include "common/result.h"
#include "common/strong_id.h"

namespace ferry::store {

// The embedded append-only store: segment files of length + CRC32C framed
// records in one data directory. The byte format is docs/journal.md.
//
// Threading: append() may be called from any thread (every shard); a single
// internal I/O thread writes batches and syncs them (group commit: one
// fdatasync covers every record appended while the previous sync ran).
// Completions run on that I/O thread; callers post them on to their shard.
//
// Durability: with FsyncPolicy::kAlways a completion with ok=true means the
// record is on disk (fdatasync returned). kInterval: written to the OS, synced
// within interval_ms. kNever: written to the OS only.

using SegmentId = StrongId<struct SegmentIdTag>;

class Env;  // store/env.h: the file system, replaceable for fault injection

enum class FsyncPolicy { kAlways, kInterval, kNever };

enum class RecordType : std::uint8_t {
  kMessage = 1,       // a message entered a queue (payload: broker-encoded message)
  kAck = 2,           // a message left a queue for good
  kDeliveries = 3,    // a message's delivery count changed (redelivery)
  kSubscription = 4,  // a durable subscription / queue definition was created
  kUnsubscription = 5,// ... was removed
  kBatch = 6,         // several records that count as one (a transaction)
  kCheckpoint = 7,    // reserved
};

struct JournalOptions {
  std::string directory;                     // created if missing
  std::uint64_t segment_size = 64ull << 20;  // roll to a new segment past this
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  std::uint32_t fsync_interval_ms = 100;     // kInterval
  std::uint64_t max_batch_bytes = 4ull << 20;// one write+sync carries at most this
  bool skip_corrupt = false;                 // recovery: skip a corrupt record in the middle
  // Dead segment files kept for reuse as new segments (docs/journal.md
  // "Recycled segment files"): overwriting blocks a file already has makes
  // each fdatasync cheaper than extending a file. 0 = unlink them.
  std::uint32_t recycle_files = 2;
};

struct AppendResult {
  bool ok = true;
  std::string error;  // e.g. "disk full (No space left on device)"
  // Where the record was written: its segment (also when it failed: the
  // segment it was meant for) and the offset of its header there (ok only;
  // for a batch: of the batch record). Exact, unlike the hint of
  // append_located().
  SegmentId segment;
  std::uint64_t offset = 0;
};
// Completions run once per record (a message's journaling has two or three),
// so they keep their captures inline instead of allocating.
using AppendDone = InlineFunction<void(const AppendResult&), 120>;

// A record seen during replay. Views are valid during the visitor call only.
struct ReplayedRecord {
  RecordType type;
  std::span<const char> payload;
  SegmentId segment;
  std::uint64_t offset;  // of the record header in its segment file
};

struct ReplayStats {
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
  std::uint64_t segments = 0;
  std::uint64_t truncated_bytes = 0;  // torn/corrupt tail cut off
  std::string report;                 // human text of what was cut, if anything
};

// fdatasync latency for /metrics: cumulative-free bucket counts (counts[i]
// = syncs that took at most kFsyncBuckets[i] seconds and more than the
// bound before; the last count is above every bound).
inline constexpr std::array<double, 12> kFsyncBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                          0.01,   0.025,   0.05,   0.1,   0.25,   1.0};
struct FsyncHistogram {
  std::array<std::uint64_t, kFsyncBuckets.size() + 1> counts{};
  double sum_seconds = 0;
  std::uint64_t count = 0;
};

class Journal {
 public:
  virtual ~Journal() = default;

  // Opens (creating) the directory, takes its lock (a second process gets an
  // error naming the directory), and scans the segments. Fails with a message
  // naming segment, offset and bytes on a corrupt record that is not at the
  // tail (unless options.skip_corrupt).
  static Result<std::unique_ptr<Journal>> open(const JournalOptions& options);
  // The same on a given file system (tests inject faults through it). `env`
  // must outlive the journal.
  static Result<std::unique_ptr<Journal>> open(const JournalOptions& options, Env& env);

  // The size past which a segment rolls (segment-size).
  virtual std::uint64_t segment_size() const = 0;

  // Calls visit for every valid record, oldest first (segment, offset). A
  // kBatch record is delivered as its contained records, in order, each with
  // the batch's segment/offset. Must be called once, before the first append.
  // Replay retains nothing: the visitor calls retain() for what it rebuilds.
  // When replay returns, segments nobody retained become deletable, and no
  // segment is ever deleted before replay() has run.
  virtual ReplayStats replay(const std::function<void(const ReplayedRecord&)>& visit) = 0;

  // Appends one record; returns the segment it lands in. `done` runs on the
  // I/O thread once the record's batch is durable per the fsync policy, or
  // failed (then nothing of that batch counts: it is cut from the file).
  virtual SegmentId append(RecordType type, std::span<const char> payload, AppendDone done) = 0;
  // Appends several records atomically (one kBatch record).
  virtual SegmentId append_batch(
      const std::vector<std::pair<RecordType, std::string>>& records, AppendDone done) = 0;

  // As append()/append_batch(), and retain() the segment `retains` times
  // under the same lock that picks it. Use these for records that keep their
  // segment alive (messages): with append() followed by retain(), a release()
  // elsewhere in between may find the segment dead and delete it.
  // The retains are taken even when the append fails: release them as usual.
  // (Additive; the default is that racy sequence, JournalImpl overrides it.)
  virtual SegmentId append_retained(RecordType type, std::span<const char> payload,
                                    std::uint32_t retains, AppendDone done) {
    SegmentId s = append(type, payload, std::move(done));
    for (std::uint32_t i = 0; i < retains; ++i) retain(s);
    return s;
  }
  virtual SegmentId append_batch_retained(
      const std::vector<std::pair<RecordType, std::string>>& records, std::uint32_t retains,
      AppendDone done) {
    SegmentId s = append_batch(records, std::move(done));
    for (std::uint32_t i = 0; i < retains; ++i) retain(s);
    return s;
  }

  // As append_retained(), and `offset` gets where the record is expected in
  // its segment (a hint: a failed earlier write can move it; read_at()
  // callers verify what they find and fall back to scan()).
  virtual SegmentId append_located(RecordType type, std::span<const char> payload,
                                   std::uint32_t retains, std::uint64_t& offset, AppendDone done) {
    offset = 0;
    return append_retained(type, payload, retains, std::move(done));
  }

  // Reading back (paging): visit(type, payload) is called for the record at
  // `offset` of `segment` (for a kBatch, for each of its entries) until it
  // returns true. scan() does the same for every record of the segment.
  // Both return true when visit returned true. Only for records whose append
  // has completed; any thread; reads the file (no cache).
  using ReadVisitor = std::function<bool(RecordType, std::span<const char>)>;
  virtual bool read_at(SegmentId segment, std::uint64_t offset, const ReadVisitor& visit) {
    return false;
  }
  virtual bool scan(SegmentId segment, const ReadVisitor& visit) { return false; }
  // Reads at most `max_bytes` of `segment` from `offset` (which must be where
  // a record starts) and calls visit(offset, index, type, payload) for every
  // complete valid record in that span, in order; a kBatch is visited entry
  // by entry with index 0, 1, ... (a plain record has index 0). Stops at the
  // first incomplete or invalid record, or when visit returns false. Returns
  // the offset after the last record visited (== `offset` when none was).
  // Only for records whose append has completed; any thread.
  using SpanVisitor =
      std::function<bool(std::uint64_t offset, std::uint32_t index, RecordType, std::span<const char>)>;
  virtual std::uint64_t read_span(SegmentId segment, std::uint64_t offset, std::uint64_t max_bytes,
                                  const SpanVisitor& visit) {
    return offset;
  }

  // Liveness: the caller counts the live messages per segment. A segment with
  // no live messages that is older than every segment with live ones, and is
  // not the segment being written, is deleted. retain()/release() may be
  // called from any thread; the unlink itself happens on the I/O thread
  // (segment_count()/disk_bytes() drop once it has). release() must pair an
  // earlier retain() of the same segment.
  virtual void retain(SegmentId segment) = 0;
  virtual void release(SegmentId segment) = 0;

  // `done` runs on the I/O thread once every record appended before this
  // call has completed: ok when the last of them is durable (an earlier
  // failed one reported its failure to its own completion), failed when
  // the journal is closed or the write of a record in the same batch
  // failed. Writes nothing. For an answer that must follow records written
  // without a completion of their own (a deleted queue's ack records).
  virtual void flush(AppendDone done) = 0;

  // Bytes on disk across all segments; segment count.
  virtual std::uint64_t disk_bytes() const = 0;
  virtual std::uint64_t segment_count() const = 0;
  virtual std::uint64_t fsync_count() const = 0;
  // Any thread; a consistent-enough snapshot (buckets are read one by one).
  virtual FsyncHistogram fsync_latency() const { return {}; }
  // The oldest segment still on disk, and the one new records land in. A
  // large gap means old segments are pinned by a few long-lived records,
  // which the caller can re-append (compact forward) and release.
  virtual SegmentId oldest_segment() const = 0;
  virtual SegmentId tail_segment() const = 0;

  // Waits until everything appended so far is completed, then stops the I/O
  // thread and releases the directory lock. Appends after close() complete
  // at once, on the caller's thread, with ok=false. Not from a completion.
  virtual void close() = 0;
};

}  // namespace ferry::store
