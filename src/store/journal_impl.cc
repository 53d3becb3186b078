#include "store/journal_impl.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "common/assert.h"
#include "common/clock.h"
#include "store/record_codec.h"
#include "store/record_format.h"
#include "store/segment_prefetcher.h"
#include "store/segment_reader.h"

namespace ferry::store {
namespace {

std::string segment_file_name(SegmentId id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu%s", static_cast<unsigned long long>(id.value),
                format::kSegmentSuffix);
  return buf;
}

// A dead segment's file waiting to be reused: "<20 digits>.free" (never read).
constexpr std::string_view kFreeSuffix = ".free";

// The id of a segment file name, or 0 for any other name.
std::uint64_t parse_segment_file_name(const std::string& name) {
  const std::string suffix = format::kSegmentSuffix;
  if (name.size() != format::kSegmentIdDigits + suffix.size()) return 0;
  if (name.compare(format::kSegmentIdDigits, suffix.size(), suffix) != 0) return 0;
  std::uint64_t id = 0;
  for (std::size_t i = 0; i < format::kSegmentIdDigits; ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    id = id * 10 + static_cast<std::uint64_t>(name[i] - '0');
  }
  return id;
}

std::string describe(SegmentId id, const std::string& path, const CorruptRegion& r) {
  return "segment " + std::to_string(id.value) + " (" + path + ") at offset " +
         std::to_string(r.offset) + " (" + std::to_string(r.bytes) + " bytes): " + r.why;
}

}  // namespace

JournalImpl::JournalImpl(const JournalOptions& options, Env& env)
    : options_(options), env_(env), journal_dir_(options.directory + "/" + format::kJournalSubdir) {}

JournalImpl::~JournalImpl() { close(); }

std::string JournalImpl::segment_path(SegmentId id) const {
  return journal_dir_ + "/" + segment_file_name(id);
}

std::string JournalImpl::free_path(SegmentId id) const {
  std::string name = segment_file_name(id);
  return journal_dir_ + "/" + name.substr(0, name.size() - std::strlen(format::kSegmentSuffix)) +
         std::string(kFreeSuffix);
}

Status JournalImpl::open() {
  FERRY_ASSERT(options_.segment_size > 0 && options_.max_batch_bytes > 0);
  if (options_.directory.empty()) {
    return failure("journal directory is not set");
  }
  if (IoStatus st = env_.create_dirs(journal_dir_); !st.ok()) {
    return failure("cannot create data directory: " + st.to_string());
  }
  const std::string lock_path = options_.directory + "/" + format::kLockFile;
  if (IoStatus st = env_.lock_file(lock_path, lock_); !st.ok()) {
    if (st.code == EWOULDBLOCK || st.code == EAGAIN)
      return failure("data directory " + options_.directory + " is in use by another ferry process");
    return failure("cannot lock data directory: " + st.to_string());
  }
  if (Status scanned = scan_existing(); !scanned) {
    lock_.reset();
    return scanned;
  }
  io_thread_ = std::thread([this] { io_loop(); });
  return {};
}

// Verifies every segment (docs/journal.md "Recovery"), cuts the last one's
// torn tail, and positions the writer after the last valid record.
Status JournalImpl::scan_existing() {
  std::vector<std::string> names;
  if (IoStatus st = env_.list_dir(journal_dir_, names); !st.ok()) {
    return failure("cannot list journal: " + st.to_string());
  }
  for (const auto& name : names) {
    if (std::uint64_t id = parse_segment_file_name(name); id != 0) {
      found_.emplace_back(id);
    } else if (std::string_view(name).ends_with(kFreeSuffix)) {
      // A dead segment's file kept for reuse: no records of any live segment.
      const std::string path = journal_dir_ + "/" + name;
      if (free_files_.size() < options_.recycle_files) {
        free_files_.push_back(path);
      } else if (IoStatus st = env_.remove_file(path); !st.ok()) {
        spdlog::warn("journal: cannot delete {}: {}", path, st.to_string());
      }
    }
  }
  std::sort(found_.begin(), found_.end());

  std::uint64_t last_end = 0;
  std::vector<char> data;
  std::vector<std::string> paths;
  for (const SegmentId id : found_) paths.push_back(segment_path(id));
  SegmentPrefetcher files(env_, paths);
  for (std::size_t i = 0; i < found_.size(); ++i) {
    const SegmentId id = found_[i];
    const bool last = i + 1 == found_.size();
    const std::string& path = paths[i];
    IoStatus read_status;
    files.next(read_status, data);
    if (!read_status.ok()) {
      return failure("cannot read journal: " + read_status.to_string());
    }
    SegmentScan scan = scan_segment(data, id, {});
    if (read_seal(data, id) != record_seal(id)) unsealed_.insert(id);
    std::vector<CorruptRegion> bad = scan.middle;
    // Only the last segment has a tail that may be cut: anywhere else a bad
    // region is data loss in the middle of the journal.
    if (scan.tail && !last) bad.push_back(*scan.tail);
    for (const auto& region : bad) {
      if (!options_.skip_corrupt) {
        return failure("corrupt journal record in " + describe(id, path, region));
      }
      const std::string line = "skipped corrupt bytes in " + describe(id, path, region);
      spdlog::error("journal: {}", line);
      open_stats_.report += line + "\n";
    }
    std::uint64_t size = data.size();
    if (scan.tail && last) {
      const CorruptRegion& t = *scan.tail;
      // A segment without a valid header keeps nothing: cut it to 0 and the
      // next write rewrites the header.
      const std::uint64_t keep = scan.valid_end < format::kSegmentHeaderBytes ? 0 : scan.valid_end;
      std::unique_ptr<File> file;
      IoStatus st = env_.open_file(path, false, file);
      if (st.ok()) st = file->truncate(keep);
      if (st.ok()) st = file->sync();
      if (!st.ok()) {
        return failure("cannot cut the torn tail of the journal: " + st.to_string());
      }
      const CorruptRegion cut{keep, size - keep, t.why};
      // A recycled file after a crash: what follows the last record is the
      // file's previous segment's (valid under that segment's seal).
      const std::optional<SegmentId> earlier =
          sealed_for(data, t.offset < format::kSegmentHeaderBytes ? format::kSegmentHeaderBytes : t.offset);
      std::string line = "cut torn or corrupt tail of " + describe(id, path, cut);
      if (earlier && *earlier < id) {
        line = "cut the tail of " + describe(id, path, cut) + ": records of earlier segment " +
               std::to_string(earlier->value) + " (a recycled file), not data of this one";
        spdlog::info("journal: {}", line);
      } else {
        spdlog::warn("journal: {}", line);
      }
      open_stats_.report += line + "\n";
      open_stats_.truncated_bytes += cut.bytes;
      size = keep;
    }
    segments_[id] = SegmentInfo{0, size, true, false};
    update_disk_bytes();
    last_end = size;
  }

  if (found_.empty()) {
    tail_segment_ = SegmentId{1};
    tail_bytes_ = format::kSegmentHeaderBytes;
  } else if (last_end > 0 && unsealed_.count(found_.back())) {
    // A journal of an earlier format version: its last segment holds
    // unsealed records, so new (sealed) ones start a segment of their own.
    tail_segment_ = SegmentId{found_.back().value + 1};
    tail_bytes_ = format::kSegmentHeaderBytes;
  } else {
    const SegmentId last = found_.back();
    std::unique_ptr<File> file;
    if (IoStatus st = env_.open_file(segment_path(last), false, file); !st.ok()) {
      return failure("cannot open journal segment: " + st.to_string());
    }
    writer_ = std::make_unique<SegmentWriter>(last, segment_path(last), std::move(file), last_end);
    tail_segment_ = last;
    tail_bytes_ = std::max<std::uint64_t>(last_end, format::kSegmentHeaderBytes);
  }
  active_segment_ = tail_segment_;
  last_sync_ms_ = mono_ms();
  return {};
}

ReplayStats JournalImpl::replay(const std::function<void(const ReplayedRecord&)>& visit) {
  {
    std::lock_guard lk(mutex_);
    FERRY_ASSERT(!replayed_ && !appended_);  // once, before the first append
  }
  ReplayStats stats = open_stats_;
  std::vector<char> data;
  std::vector<std::string> paths;
  for (const SegmentId id : found_) paths.push_back(segment_path(id));
  SegmentPrefetcher files(env_, paths);
  for (std::size_t i = 0; i < found_.size(); ++i) {
    const SegmentId id = found_[i];
    const std::string& path = paths[i];
    IoStatus st;
    files.next(st, data);
    if (!st.ok()) {
      // open() read this file a moment ago; losing it now is not a state we
      // can rebuild from, so say so loudly rather than replay a gap silently.
      const std::string line = "cannot read " + path + " during replay: " + st.to_string();
      spdlog::error("journal: {}", line);
      stats.report += line + "\n";
      continue;
    }
    const SegmentScan scan = scan_segment(data, id, [&](const RecordView& rec) {
      if (rec.type == RecordType::kBatch) {
        for_each_batch_entry(rec.payload, [&](RecordType type, std::span<const char> payload) {
          ++stats.records;
          if (visit) visit(ReplayedRecord{type, payload, id, rec.offset});
        });
      } else {
        ++stats.records;
        if (visit) visit(ReplayedRecord{rec.type, rec.payload, id, rec.offset});
      }
    });
    stats.bytes += scan.record_bytes;
    ++stats.segments;
  }
  std::lock_guard lk(mutex_);
  replayed_ = true;
  collect_deletable_locked();
  work_cv_.notify_one();
  return stats;
}

SegmentId JournalImpl::append(RecordType type, std::span<const char> payload, AppendDone done) {
  return append_retained(type, payload, 0, std::move(done));
}

SegmentId JournalImpl::append_batch(const std::vector<std::pair<RecordType, std::string>>& records,
                                    AppendDone done) {
  return append_batch_retained(records, 0, std::move(done));
}

SegmentId JournalImpl::append_retained(RecordType type, std::span<const char> payload,
                                       std::uint32_t retains, AppendDone done) {
  FERRY_ASSERT(type != RecordType::kBatch);  // append_batch() builds those
  // The CRC outside the lock (appenders compute theirs in parallel); the
  // seal once the segment is known, in enqueue().
  return enqueue(type, payload, record_crc(type, payload), retains, std::move(done));
}

SegmentId JournalImpl::append_located(RecordType type, std::span<const char> payload,
                                      std::uint32_t retains, std::uint64_t& offset, AppendDone done) {
  FERRY_ASSERT(type != RecordType::kBatch);
  return enqueue(type, payload, record_crc(type, payload), retains, std::move(done), &offset);
}

namespace {
// Calls visit for a record (or each entry of a batch); true when it said stop.
bool visit_record(const RecordView& r, const Journal::ReadVisitor& visit) {
  if (r.type != RecordType::kBatch) return visit(r.type, r.payload);
  bool stopped = false;
  for_each_batch_entry(r.payload, [&](RecordType t, std::span<const char> p) {
    if (!stopped) stopped = visit(t, p);
  });
  return stopped;
}
}  // namespace

bool JournalImpl::read_at(SegmentId segment, std::uint64_t offset, const ReadVisitor& visit) {
  std::unique_ptr<File> file;
  if (!env_.open_file(segment_path(segment), false, file).ok()) return false;
  const std::uint32_t seal = seal_of(segment);
  std::string header(format::kRecordHeaderBytes, '\0');
  std::size_t got = 0;
  if (!file->read_at(offset, std::span<char>(header.data(), header.size()), got).ok() ||
      got != header.size())
    return false;
  const std::uint32_t length = format::get_u32(header.data());
  if (length == 0 || length > format::kMaxRecordLength) return false;
  std::string bytes(format::kRecordHeaderBytes + length, '\0');
  if (!file->read_at(offset, std::span<char>(bytes.data(), bytes.size()), got).ok() || got != bytes.size())
    return false;
  RecordView r;
  std::string why;
  if (!parse_record(std::span<const char>(bytes.data(), bytes.size()), 0, r, why, seal)) return false;
  return visit_record(r, visit);
}

bool JournalImpl::scan(SegmentId segment, const ReadVisitor& visit) {
  std::unique_ptr<File> file;
  if (!env_.open_file(segment_path(segment), false, file).ok()) return false;
  std::uint64_t size = 0;
  if (!file->size(size).ok()) return false;
  std::string bytes(size, '\0');
  std::size_t got = 0;
  if (!file->read_at(0, std::span<char>(bytes.data(), bytes.size()), got).ok()) return false;
  bytes.resize(got);
  std::span<const char> data(bytes.data(), bytes.size());
  const std::uint32_t seal = seal_of(segment);
  std::uint64_t pos = format::kSegmentHeaderBytes;
  RecordView r;
  std::string why;
  while (pos < data.size() && parse_record(data, pos, r, why, seal)) {
    if (visit_record(r, visit)) return true;
    pos += r.size;
  }
  return false;
}

std::uint64_t JournalImpl::read_span(SegmentId segment, std::uint64_t offset, std::uint64_t max_bytes,
                                     const SpanVisitor& visit) {
  std::unique_ptr<File> file;
  if (!env_.open_file(segment_path(segment), false, file).ok()) return offset;
  const std::uint32_t seal = seal_of(segment);
  std::uint64_t size = 0;
  if (!file->size(size).ok() || offset >= size) return offset;
  std::string bytes(std::min(max_bytes, size - offset), '\0');
  std::size_t got = 0;
  if (!file->read_at(offset, std::span<char>(bytes.data(), bytes.size()), got).ok()) return offset;
  bytes.resize(got);
  std::span<const char> data(bytes.data(), bytes.size());
  std::uint64_t pos = 0;
  RecordView r;
  std::string why;
  while (pos < data.size() && parse_record(data, pos, r, why, seal)) {
    bool go_on = true;
    if (r.type == RecordType::kBatch) {
      std::uint32_t index = 0;
      for_each_batch_entry(r.payload, [&](RecordType t, std::span<const char> p) {
        if (go_on) go_on = visit(offset + pos, index++, t, p);
      });
    } else {
      go_on = visit(offset + pos, 0, r.type, r.payload);
    }
    pos += r.size;
    if (!go_on) break;
  }
  return offset + pos;
}

SegmentId JournalImpl::append_batch_retained(
    const std::vector<std::pair<RecordType, std::string>>& records, std::uint32_t retains,
    AppendDone done) {
  const std::string payload = encode_batch_payload(records);
  return enqueue(RecordType::kBatch, payload, record_crc(RecordType::kBatch, payload), retains,
                 std::move(done));
}

SegmentId JournalImpl::enqueue(RecordType type, std::span<const char> payload, std::uint32_t crc,
                               std::uint32_t retains, AppendDone done, std::uint64_t* offset) {
  const std::uint64_t record_size = format::kRecordHeaderBytes + 1 + payload.size();
  std::unique_lock lk(mutex_);
  if (closed_) {
    const SegmentId seg = tail_segment_;
    if (retains > 0) segments_[seg].live += retains;  // taken even when the append fails
    lk.unlock();
    if (done) done(AppendResult{false, "journal is closed", seg});
    return seg;
  }
  appended_ = true;
  // A record never spans segments; a segment holds at least one record.
  if (tail_bytes_ > format::kSegmentHeaderBytes && tail_bytes_ + record_size > options_.segment_size) {
    tail_segment_ = SegmentId{tail_segment_.value + 1};
    tail_bytes_ = format::kSegmentHeaderBytes;
  }
  if (offset != nullptr) *offset = tail_bytes_;
  tail_bytes_ += record_size;
  if (pending_.empty() || pending_.back().segment != tail_segment_ ||
      pending_.back().bytes.size() + record_size > options_.max_batch_bytes) {
    pending_.push_back(spare_chunk_locked(tail_segment_));
  }
  Chunk& chunk = pending_.back();
  // Straight into the batch buffer, sealed now that its segment is known.
  append_record(chunk.bytes, type, payload, crc, record_seal(tail_segment_));
  chunk.done.push_back(std::move(done));
  chunk.sizes.push_back(static_cast<std::uint32_t>(record_size));
  const SegmentId seg = tail_segment_;
  if (retains > 0) segments_[seg].live += retains;
  lk.unlock();
  work_cv_.notify_one();
  return seg;
}

void JournalImpl::flush(AppendDone done) {
  std::unique_lock lk(mutex_);
  if (closed_) {
    const SegmentId seg = tail_segment_;
    lk.unlock();
    if (done) done(AppendResult{false, "journal is closed", seg});
    return;
  }
  // A completion with no bytes, behind every record appended so far: the
  // I/O thread completes chunks in order (an empty part is not written).
  if (pending_.empty()) pending_.push_back(spare_chunk_locked(tail_segment_));
  Chunk& chunk = pending_.back();
  chunk.done.push_back(std::move(done));
  chunk.sizes.push_back(0);
  lk.unlock();
  work_cv_.notify_one();
}

JournalImpl::Chunk JournalImpl::spare_chunk_locked(SegmentId segment) {
  Chunk c;
  if (!spare_chunks_.empty()) {
    c = std::move(spare_chunks_.back());
    spare_chunks_.pop_back();
  }
  c.segment = segment;
  return c;
}

void JournalImpl::recycle_chunks(std::vector<Chunk>& batch) {
  std::lock_guard lk(mutex_);
  for (Chunk& c : batch) {
    if (spare_chunks_.size() >= kSpareChunks) break;
    c.done.clear();
    c.sizes.clear();
    // A buffer grown by a burst is not kept at that size.
    if (c.bytes.capacity() > kSpareChunkBytes) std::string().swap(c.bytes);
    c.bytes.clear();
    spare_chunks_.push_back(std::move(c));
  }
  batch.clear();
}

void JournalImpl::retain(SegmentId segment) {
  std::lock_guard lk(mutex_);
  SegmentInfo& info = segments_[segment];
  FERRY_ASSERT(!info.deleting);  // retaining a segment already released for good
  ++info.live;
}

void JournalImpl::release(SegmentId segment) {
  std::lock_guard lk(mutex_);
  auto it = segments_.find(segment);
  FERRY_ASSERT(it != segments_.end() && it->second.live > 0);
  --it->second.live;
  if (it->second.live == 0 && replayed_) {
    collect_deletable_locked();
    if (!to_delete_.empty()) work_cv_.notify_one();
  }
}

// The prefix rule (docs/journal.md "Liveness and deletion"): only the oldest
// segments, none live, none being written. Before replay nothing is known to
// be dead.
void JournalImpl::collect_deletable_locked() {
  if (!replayed_) return;
  for (auto it = segments_.begin(); it != segments_.end();) {
    if (it->first >= active_segment_ || it->second.live > 0) break;
    if (it->second.deleting) {
      ++it;
    } else if (!it->second.exists) {
      it = segments_.erase(it);  // promised, never created (its writes failed)
    } else {
      it->second.deleting = true;
      to_delete_.push_back(it->first);
      ++it;
    }
  }
}

// Asked on every persistent SEND (disk-limit), so it reads a figure that is
// recomputed (under mutex_) only where segment files grow, appear or go.
std::uint64_t JournalImpl::disk_bytes() const { return disk_bytes_.load(std::memory_order_relaxed); }

void JournalImpl::update_disk_bytes() {
  std::uint64_t total = 0;
  for (const auto& [id, info] : segments_) {
    if (info.exists) total += info.bytes;
  }
  disk_bytes_.store(total, std::memory_order_relaxed);
}

SegmentId JournalImpl::oldest_segment() const {
  std::lock_guard lk(mutex_);
  for (const auto& [id, info] : segments_)
    if (info.exists) return id;
  return tail_segment_;
}

SegmentId JournalImpl::tail_segment() const {
  std::lock_guard lk(mutex_);
  return tail_segment_;
}

std::uint64_t JournalImpl::segment_count() const {
  std::lock_guard lk(mutex_);
  return static_cast<std::uint64_t>(
      std::count_if(segments_.begin(), segments_.end(), [](const auto& e) { return e.second.exists; }));
}

void JournalImpl::close() {
  {
    std::lock_guard lk(mutex_);
    if (closed_) return;
    closed_ = true;
  }
  work_cv_.notify_one();
  if (io_thread_.joinable()) {
    // A completion runs on the I/O thread; closing from it would join itself.
    FERRY_ASSERT(std::this_thread::get_id() != io_thread_.get_id());
    io_thread_.join();
  }
  // A clean stop leaves no stale tail for the next start to cut.
  if (writer_) {
    if (IoStatus st = writer_->trim(options_.fsync != FsyncPolicy::kNever); !st.ok())
      spdlog::warn("journal: cannot trim the last segment: {}", st.to_string());
  }
  writer_.reset();
  lock_.reset();
}

void JournalImpl::io_loop() {
  std::unique_lock lk(mutex_);
  for (;;) {
    bool interval_due = false;
    while (pending_.empty() && to_delete_.empty() && !closed_) {
      if (options_.fsync == FsyncPolicy::kInterval && writer_ && writer_->dirty()) {
        const auto deadline = last_sync_ms_ + static_cast<std::int64_t>(options_.fsync_interval_ms);
        if (mono_ms() >= deadline) {
          interval_due = true;
          break;
        }
        work_cv_.wait_for(lk, std::chrono::milliseconds(deadline - mono_ms()));
      } else {
        work_cv_.wait(lk);
      }
    }
    // One batch: whole chunks, at most max_batch_bytes, at least one chunk.
    std::vector<Chunk>& batch = io_batch_;
    std::uint64_t batch_bytes = 0;
    std::size_t taken = 0;
    while (taken < pending_.size() &&
           (batch.empty() || batch_bytes + pending_[taken].bytes.size() <= options_.max_batch_bytes)) {
      batch_bytes += pending_[taken].bytes.size();
      batch.push_back(std::move(pending_[taken]));
      ++taken;
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(taken));
    std::vector<SegmentId> deletions;
    deletions.swap(to_delete_);
    const bool last_round = closed_ && pending_.empty();
    lk.unlock();

    if (!batch.empty()) {
      write_batch(batch);
      recycle_chunks(batch);  // their buffers serve the next appends
    }
    maybe_interval_sync(interval_due || last_round);
    if (!deletions.empty()) delete_segments(deletions);
    if (last_round) return;
    lk.lock();
  }
}

void JournalImpl::maybe_interval_sync(bool force) {
  if (options_.fsync != FsyncPolicy::kInterval || !writer_ || !writer_->dirty()) return;
  if (!force &&
      mono_ms() < last_sync_ms_ + static_cast<std::int64_t>(options_.fsync_interval_ms)) {
    return;
  }
  // The records were already reported written; a failed sync here can only be
  // logged (kInterval promises durability within the interval, not per record).
  if (IoStatus st = sync_writer(); !st.ok()) {
    spdlog::error("journal: interval sync failed: {}", st.to_string());
  }
}

IoStatus JournalImpl::sync_writer() {
  const auto start = std::chrono::steady_clock::now();
  IoStatus st = writer_->sync();
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now() - start).count();
  last_sync_ms_ = mono_ms();
  if (st.ok()) {
    const double seconds = static_cast<double>(nanos) / 1e9;
    std::size_t b = 0;
    while (b < kFsyncBuckets.size() && seconds > kFsyncBuckets[b]) ++b;
    fsync_buckets_[b].fetch_add(1, std::memory_order_relaxed);
    fsync_nanos_.fetch_add(static_cast<std::uint64_t>(nanos), std::memory_order_relaxed);
    fsync_count_.fetch_add(1);
  }
  return st;
}

FsyncHistogram JournalImpl::fsync_latency() const {
  FsyncHistogram h;
  for (std::size_t i = 0; i < h.counts.size(); ++i) {
    h.counts[i] = fsync_buckets_[i].load(std::memory_order_relaxed);
    h.count += h.counts[i];
  }
  h.sum_seconds = static_cast<double>(fsync_nanos_.load(std::memory_order_relaxed)) / 1e9;
  return h;
}

// Moves the writer to segment `id`, creating its file. The old segment is
// synced first (unless kNever) so that a later segment never exists on disk
// while an earlier one still has unsynced records.
IoStatus JournalImpl::switch_to(SegmentId id) {
  if (writer_ && writer_->id() == id) return IoStatus::success();
  FERRY_ASSERT(!writer_ || writer_->id() < id);
  if (writer_ && writer_->dirty() && options_.fsync != FsyncPolicy::kNever) {
    if (IoStatus st = sync_writer(); !st.ok()) {
      // Only kInterval gets here dirty (kAlways syncs every batch).
      spdlog::error("journal: sync before segment roll failed: {}", st.to_string());
    }
  }
  // The old segment's file, if recycled, loses its stale tail first: only
  // the last segment may end in bytes recovery cuts.
  if (writer_) {
    if (IoStatus st = writer_->trim(options_.fsync != FsyncPolicy::kNever); !st.ok()) return st;
  }
  const std::string path = segment_path(id);
  std::unique_ptr<File> file;
  bool recycled = false;
  if (IoStatus st = open_new_segment(path, file, recycled); !st.ok()) return st;
  {
    std::lock_guard lk(mutex_);
    segments_[id].exists = true;
  }
  if (options_.fsync != FsyncPolicy::kNever) {
    if (IoStatus st = env_.sync_dir(journal_dir_); !st.ok()) return st;
  }
  writer_ = std::make_unique<SegmentWriter>(id, path, std::move(file), 0, recycled);
  std::lock_guard lk(mutex_);
  segments_[id].bytes = 0;
  update_disk_bytes();
  // No deletion check here: only replay() and release() make a segment dead
  // (docs/journal.md), so a record appended without retain() stays put.
  active_segment_ = id;
  return IoStatus::success();
}

// The file of a new segment: a recycled one when there is one (renamed; its
// old records are sealed with another id, so none reads as this segment's),
// else a new empty file. A file already at `path` is left by an earlier
// failed attempt at this very segment: its bytes could be valid records of
// it, so it is emptied.
IoStatus JournalImpl::open_new_segment(const std::string& path, std::unique_ptr<File>& file, bool& recycled) {
  recycled = false;
  if (env_.open_file(path, false, file).ok()) return file->truncate(0);
  if (!free_files_.empty()) {
    const std::string from = free_files_.back();
    free_files_.pop_back();
    IoStatus st = env_.rename_file(from, path);
    if (st.ok()) st = env_.open_file(path, false, file);
    if (st.ok()) {
      recycled = true;
      return st;
    }
    spdlog::warn("journal: cannot reuse {}: {}", from, st.to_string());
  }
  IoStatus st = env_.open_file(path, true, file);
  if (st.ok()) st = file->truncate(0);  // empty, even if the rename above landed
  return st;
}

std::string JournalImpl::failure_text(const IoStatus& st) const {
  if (st.code == ENOSPC || st.code == EDQUOT) return std::string("disk full: ") + std::strerror(st.code);
  return std::string("journal write failed: ") + std::strerror(st.code);
}

// Writes one batch, one part per segment, syncs per policy, then runs the
// completions. A failure fails every record not yet synced (this part and
// the rest of the batch) and cuts the segment back to where the part began.
void JournalImpl::write_batch(std::vector<Chunk>& batch) {
  std::size_t ok_chunks = 0;  // batch[0, ok_chunks) succeeded
  IoStatus failure;
  // Where each segment's part began: chunks of one part follow each other.
  std::vector<std::uint64_t>& starts = io_starts_;
  starts.assign(batch.size(), 0);
  for (std::size_t i = 0; i < batch.size();) {
    std::size_t j = i;
    std::uint64_t part_bytes = 0;
    while (j < batch.size() && batch[j].segment == batch[i].segment) part_bytes += batch[j++].bytes.size();
    if (part_bytes == 0) {
      // Only flush() completions: nothing to write (nor a segment to open).
      starts[i] = writer_ && writer_->id() == batch[i].segment ? writer_->end() : 0;
      ok_chunks = j;
      i = j;
      continue;
    }
    IoStatus st = switch_to(batch[i].segment);
    std::uint64_t start = 0;
    if (st.ok()) {
      start = writer_->end();
      // A fresh segment's first write puts the header before the records.
      starts[i] = std::max<std::uint64_t>(start, format::kSegmentHeaderBytes);
      std::vector<std::string_view>& parts = io_parts_;
      parts.clear();
      for (std::size_t k = i; k < j; ++k) parts.emplace_back(batch[k].bytes);
      st = writer_->append(parts);
    }
    if (st.ok() && options_.fsync == FsyncPolicy::kAlways) {
      st = sync_writer();
      // After a failed fdatasync the kernel may have dropped the dirty pages
      // and would not report it again: the written bytes cannot be trusted.
      if (!st.ok()) (void)writer_->cut(start);
    }
    if (!st.ok()) {
      failure = st;
      break;
    }
    {
      std::lock_guard lk(mutex_);
      segments_[writer_->id()].bytes = writer_->end();
      update_disk_bytes();
    }
    ok_chunks = j;
    i = j;
  }
  if (options_.fsync == FsyncPolicy::kInterval) maybe_interval_sync(false);

  AppendResult failed;
  if (ok_chunks < batch.size()) {
    failed = AppendResult{false, failure_text(failure)};
    if (!failing_) spdlog::error("journal: {} ({}); failing appends until it works", failed.error,
                                 failure.to_string());
    failing_ = true;
    std::lock_guard lk(mutex_);
    for (std::size_t k = ok_chunks; k < batch.size(); ++k) {
      // Undo the failed bytes' share of the tail, so a full disk does not
      // make the journal roll segments it never filled.
      if (batch[k].segment == tail_segment_) tail_bytes_ -= batch[k].bytes.size();
    }
  } else if (failing_) {
    spdlog::info("journal: writes succeed again");
    failing_ = false;
  }
  AppendResult ok;
  std::uint64_t at = 0;
  for (std::size_t k = 0; k < batch.size(); ++k) {
    if (k < ok_chunks) {
      // A part is this chunk and the following ones of the same segment.
      if (k == 0 || batch[k].segment != batch[k - 1].segment) at = starts[k];
      ok.segment = batch[k].segment;
    } else {
      failed.segment = batch[k].segment;
    }
    for (std::size_t r = 0; r < batch[k].done.size(); ++r) {
      auto& done = batch[k].done[r];
      if (k < ok_chunks) {
        ok.offset = at;
        at += batch[k].sizes[r];
      }
      if (done) done(k < ok_chunks ? ok : failed);
    }
  }
}

void JournalImpl::delete_segments(const std::vector<SegmentId>& ids) {
  for (const SegmentId id : ids) {
    std::uint64_t bytes = 0;
    {
      std::lock_guard lk(mutex_);
      bytes = segments_[id].bytes;
    }
    // A file about as large as a new segment grows to is kept for reuse.
    bool kept = false;
    if (free_files_.size() < options_.recycle_files && bytes >= options_.segment_size / 2) {
      const std::string to = free_path(id);
      if (IoStatus st = env_.rename_file(segment_path(id), to); st.ok()) {
        free_files_.push_back(to);
        kept = true;
      } else if (st.code != ENOENT) {
        spdlog::warn("journal: cannot keep a segment for reuse: {}", st.to_string());
      }
    }
    if (!kept) {
      if (IoStatus st = env_.remove_file(segment_path(id)); !st.ok() && st.code != ENOENT) {
        spdlog::warn("journal: cannot delete segment: {}", st.to_string());
      }
    }
    std::lock_guard lk(mutex_);
    segments_.erase(id);
    update_disk_bytes();
  }
}

}  // namespace ferry::store
