#include "stream/partition_log.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "common/assert.h"
#include "common/clock.h"
#include "store/replace_file.h"
#include "stream/segment_file.h"

namespace ferry::stream {

using namespace format;

struct PartitionLog::Segment {
  Segment(StreamOffset b, std::string p, std::uint32_t interval) : base(b), path(std::move(p)), index(b, interval) {}
  StreamOffset base;
  std::string path;
  std::shared_ptr<store::File> file;  // null while closed (max_open_files)
  std::uint64_t size = 0;       // bytes written: header and whole batches
  std::uint64_t synced = 0;     // covered by an fdatasync (or sealed at open)
  std::uint64_t committed = 0;  // readable: covered by a completed sync()
  SegmentIndex index;           // of every batch written
  std::uint64_t used = 0;       // LRU tick of the last acquire
  std::uint32_t generation = 0; // bumped when compaction rewrites the file
};

// An append waiting for its sync: where its batch ends, for the commit.
struct PartitionLog::Pending {
  StreamOffset first;
  std::uint32_t count = 0;
  StreamOffset segment;
  std::uint64_t end = 0;
  CommitDone done;
};

namespace {

std::string failure_text(const store::IoStatus& st) {
  if (st.code == ENOSPC || st.code == EDQUOT) return std::string("disk full: ") + std::strerror(st.code);
  return "stream write failed: " + st.to_string();
}

// Reads a whole (small) file, at most `limit` bytes: an index file.
store::IoStatus read_small_file(store::Env& env, const std::string& path, std::uint64_t limit, std::string& out,
                                bool& too_big) {
  too_big = false;
  std::unique_ptr<store::File> f;
  if (auto st = env.open_file(path, false, f); !st.ok()) return st;
  std::uint64_t size = 0;
  if (auto st = f->size(size); !st.ok()) return st;
  if (size > limit) {
    too_big = true;
    return {};
  }
  out.assign(static_cast<std::size_t>(size), '\0');
  std::size_t got = 0;
  if (auto st = f->read_at(0, std::span<char>(out.data(), out.size()), got); !st.ok()) return st;
  out.resize(got);
  return {};
}

std::string where(StreamOffset base, const std::string& path, std::uint64_t position) {
  return "segment " + std::to_string(base.value) + " (" + path + ") at position " + std::to_string(position);
}

}  // namespace

PartitionLog::PartitionLog(const PartitionOptions& options, store::Env& env) : options_(options), env_(env) {}

PartitionLog::~PartitionLog() { close(); }

std::int64_t PartitionLog::now_ms() const { return options_.clock ? options_.clock() : wall_ms(); }

std::string PartitionLog::log_path(StreamOffset base) const {
  return options_.directory + "/" + segment_file_name(base, SegmentFileKind::kLog);
}
std::string PartitionLog::offset_index_path(StreamOffset base) const {
  return options_.directory + "/" + segment_file_name(base, SegmentFileKind::kOffsetIndex);
}
std::string PartitionLog::time_index_path(StreamOffset base) const {
  return options_.directory + "/" + segment_file_name(base, SegmentFileKind::kTimeIndex);
}

Result<std::unique_ptr<PartitionLog>> PartitionLog::open(const PartitionOptions& o, store::Env& env) {
  const auto bad = [](std::string what) { return failure("invalid stream options", std::move(what)); };
  if (o.directory.empty()) return bad("no directory");
  const std::uint64_t min_batch = kBatchHeaderBytes + kEntryMinBytes;
  if (o.max_batch_bytes < min_batch || o.max_batch_bytes > kMaxBatchBytesLimit)
    return bad("max batch bytes must be in [" + std::to_string(min_batch) + ", " +
               std::to_string(kMaxBatchBytesLimit) + "]");
  if (o.max_entry_bytes < kEntryMinBytes || o.max_entry_bytes > o.max_batch_bytes - kBatchHeaderBytes)
    return bad("max entry bytes must be in [" + std::to_string(kEntryMinBytes) + ", max batch bytes - " +
               std::to_string(kBatchHeaderBytes) + "]");
  if (o.max_segment_bytes < kSegmentHeaderBytes + min_batch || o.max_segment_bytes > kMaxSegmentBytesLimit)
    return bad("x-stream-max-segment-size-bytes must be in [" + std::to_string(kSegmentHeaderBytes + min_batch) +
               ", " + std::to_string(kMaxSegmentBytesLimit) + "]");
  if (o.max_batch_entries == 0) return bad("max batch entries must be positive");
  if (o.index_interval_bytes == 0) return bad("index interval must be positive");
  if (o.max_open_files < 2) return bad("max open files must be at least 2");
  if (o.retention.max_age_ms < 0) return bad("negative max age");
  std::unique_ptr<PartitionLog> log(new PartitionLog(o, env));
  if (Status st = log->recover(); !st) return st.error();
  return log;
}

// docs/streams.md "Recovery".
Status PartitionLog::recover() {
  const std::string& dir = options_.directory;
  if (auto st = env_.create_dirs(dir); !st.ok()) return failure("cannot create stream directory", st.to_string());
  std::vector<std::string> names;
  if (auto st = env_.list_dir(dir, names); !st.ok()) return failure("cannot list stream directory", st.to_string());
  std::vector<StreamOffset> bases;
  std::vector<StreamOffset> index_files;
  for (const auto& name : names) {
    const auto parsed = parse_segment_file_name(name);
    if (!parsed) {
      // A temporary index file of an interrupted write: never complete.
      if (name.ends_with(".tmp")) (void)env_.remove_file(dir + "/" + name);
      continue;
    }
    (parsed->kind == SegmentFileKind::kLog ? bases : index_files).push_back(parsed->base);
  }
  std::sort(bases.begin(), bases.end());
  // Index files whose segment is gone (a deletion interrupted between the
  // log and its indexes).
  for (const StreamOffset b : index_files) {
    if (!std::binary_search(bases.begin(), bases.end(), b)) remove_index_files(b);
  }
  const auto note = [&](const std::string& line, bool warn) {
    if (warn) spdlog::warn("stream {}: {}", dir, line);
    else spdlog::info("stream {}: {}", dir, line);
    recovery_.report += line + "\n";
  };

  StreamOffset expected;
  for (std::size_t i = 0; i < bases.size(); ++i) {
    const StreamOffset base = bases[i];
    const bool last = i + 1 == bases.size();
    auto seg = std::make_unique<Segment>(base, log_path(base), options_.index_interval_bytes);
    std::unique_ptr<store::File> file;
    std::uint64_t size = 0;
    if (auto st = env_.open_file(seg->path, false, file); !st.ok())
      return failure("cannot open stream segment", st.to_string());
    if (auto st = file->size(size); !st.ok()) return failure("cannot open stream segment", st.to_string());
    if (i > 0 && base != expected)
      return failure("gap in stream offsets", "segment " + seg->path + " starts at " + std::to_string(base.value) +
                                                  ", the one before ends at " + std::to_string(expected.value));
    char header[kSegmentHeaderBytes];
    std::size_t got = 0;
    if (auto st = file->read_at(0, std::span<char>(header, sizeof header), got); !st.ok())
      return failure("cannot read stream segment", st.to_string());
    std::string why;
    const bool header_ok = check_segment_header(std::span<const char>(header, got), base, why);
    if (!last) {
      if (!header_ok) return failure("corrupt stream segment", where(base, seg->path, 0) + ": " + why);
      // A sealed segment: its index files if they match it, else a scan.
      std::string of, tf;
      bool big1 = false, big2 = false;
      const std::uint64_t limit = kIndexHeaderBytes + (size / (kBatchHeaderBytes + kEntryMinBytes) + 1) * kTimeIndexEntryBytes;
      const auto s1 = read_small_file(env_, offset_index_path(base), limit, of, big1);
      const auto s2 = read_small_file(env_, time_index_path(base), limit, tf, big2);
      std::string index_why;
      if (s1.ok() && s2.ok() && !big1 && !big2) {
        auto idx = SegmentIndex::decode(of, tf, base, size, options_.index_interval_bytes);
        if (idx) seg->index = std::move(*idx);
        else index_why = idx.error().text();
      } else {
        index_why = !s1.ok() ? s1.to_string() : !s2.ok() ? s2.to_string() : "index file too large";
      }
      if (!index_why.empty()) {
        const SegmentFileScan scan = scan_segment_file(*file, kSegmentHeaderBytes, size, seg->index);
        if (!scan.io.ok()) return failure("cannot read stream segment", scan.io.to_string());
        if (scan.valid_end != size)
          return failure("corrupt stream batch", where(base, seg->path, scan.valid_end) + " (" +
                                                     std::to_string(size - scan.valid_end) + " bytes): " + scan.why);
        ++recovery_.indexes_rebuilt;
        note("rebuilt the index of segment " + std::to_string(base.value) + " (" + index_why + ")", false);
        seg->size = size;
        write_index_files(*seg);
      }
    } else {
      // The last segment: every batch checked, a torn or corrupt tail cut.
      std::uint64_t keep = 0;
      std::string tail_why;
      if (header_ok) {
        const SegmentFileScan scan = scan_segment_file(*file, kSegmentHeaderBytes, size, seg->index);
        if (!scan.io.ok()) return failure("cannot read stream segment", scan.io.to_string());
        keep = scan.valid_end;
        tail_why = scan.why;
      } else {
        // A header is written when the segment is created and synced before
        // any of its batches commits. Bad, with valid batches behind it, is
        // corruption of committed data: fail rather than cut them.
        SegmentIndex probe(base, options_.index_interval_bytes);
        const SegmentFileScan scan = scan_segment_file(*file, kSegmentHeaderBytes, size, probe);
        if (scan.batches > 0) return failure("corrupt stream segment", where(base, seg->path, 0) + ": " + why);
        keep = 0;
        tail_why = why;
      }
      if (keep < size || !header_ok) {
        store::IoStatus st = file->truncate(keep);
        if (st.ok() && keep == 0) {
          const std::string h = encode_segment_header(base);
          st = file->write_at(0, std::span<const char>(h.data(), h.size()));
          keep = h.size();
        }
        if (st.ok() && options_.fsync != store::FsyncPolicy::kNever) st = file->sync();
        if (!st.ok()) return failure("cannot cut the torn tail of a stream segment", st.to_string());
        const std::uint64_t cut = size > keep ? size - keep : 0;
        recovery_.truncated_bytes += cut;
        note("cut torn or corrupt tail of " + where(base, seg->path, keep) + " (" + std::to_string(cut) +
                 " bytes): " + tail_why,
             true);
        size = keep;
      }
      // The last segment's index is rebuilt by every open: its files, if
      // any, are stale.
      remove_index_files(base);
      seg->file = std::shared_ptr<store::File>(std::move(file));
      ++open_files_;
    }
    seg->size = seg->synced = seg->committed = size;
    expected = seg->index.next();
    if (!seg->index.empty()) {
      committed_last_batch_ = seg->index.last_batch_base();
      last_timestamp_ = std::max(last_timestamp_, seg->index.max_timestamp());
      epoch_ = std::max(epoch_, seg->index.last_epoch());
    }
    segments_.emplace(base, std::move(seg));
  }
  recovery_.segments = segments_.size();
  std::lock_guard lk(mutex_);
  if (segments_.empty()) {
    if (Status st = create_segment_locked(options_.initial_offset); !st) return st;
    expected = committed_last_batch_ = options_.initial_offset;
  } else if (segments_.begin()->second->index.empty() && segments_.size() == 1) {
    committed_last_batch_ = segments_.begin()->first;
  }
  next_ = committed_ = expected;
  committed_segment_ = segments_.rbegin()->first;
  return {};
}

Status PartitionLog::create_segment_locked(StreamOffset base) {
  auto seg = std::make_unique<Segment>(base, log_path(base), options_.index_interval_bytes);
  std::unique_ptr<store::File> file;
  const std::string h = encode_segment_header(base);
  store::IoStatus st = env_.open_file(seg->path, true, file);
  // A file already there is an earlier failed attempt at this segment.
  if (st.ok()) st = file->truncate(0);
  if (st.ok()) st = file->write_at(0, std::span<const char>(h.data(), h.size()));
  if (!st.ok()) {
    if (file) {
      file.reset();
      (void)env_.remove_file(seg->path);
    }
    return failure(failure_text(st));
  }
  seg->size = h.size();
  seg->committed = h.size();
  seg->synced = 0;  // the header and the directory entry reach the disk with the next sync
  seg->file = std::shared_ptr<store::File>(std::move(file));
  ++open_files_;
  dir_dirty_ = true;
  segments_.emplace(base, std::move(seg));
  close_idle_files_locked();
  return {};
}

void PartitionLog::write_index_files(const Segment& s) {
  // Written to a temporary name and renamed: a crash leaves the old file,
  // none, or the new one; never half of one (and a bad one is rebuilt).
  // Not synced: an index is a cache.
  const std::pair<std::string, std::string> files[] = {
      {offset_index_path(s.base), s.index.encode_offset_file(s.size)},
      {time_index_path(s.base), s.index.encode_time_file(s.size)}};
  for (const auto& [path, bytes] : files) {
    const store::IoStatus st = store::replace_file(env_, path, options_.directory, bytes, false);
    // The segment stays readable; the next open rebuilds the index.
    if (!st.ok()) spdlog::warn("stream {}: cannot write an index file: {}", options_.directory, st.to_string());
  }
}

void PartitionLog::remove_index_files(StreamOffset base) {
  for (const auto& path : {offset_index_path(base), time_index_path(base)}) {
    if (auto st = env_.remove_file(path); !st.ok() && st.code != ENOENT)
      spdlog::warn("stream {}: cannot delete {}: {}", options_.directory, path, st.to_string());
  }
}

Status PartitionLog::check_entries(std::span<const StreamEntry> entries) const {
  if (entries.empty()) return failure("empty stream batch");
  if (entries.size() > options_.max_batch_entries)
    return failure("stream batch too large",
                   std::to_string(entries.size()) + " entries, limit " + std::to_string(options_.max_batch_entries));
  std::uint64_t total = kBatchHeaderBytes;
  for (const StreamEntry& e : entries) {
    const std::uint64_t n = encoded_entry_bytes(e);
    if (n > options_.max_entry_bytes)
      return failure("stream entry too large",
                     std::to_string(n) + " bytes encoded, limit " + std::to_string(options_.max_entry_bytes));
    if (e.headers.size() > (options_.max_entry_bytes / 8))
      return failure("stream entry too large", "too many headers");
    total += n;
  }
  if (total > options_.max_batch_bytes)
    return failure("stream batch too large",
                   std::to_string(total) + " bytes, limit " + std::to_string(options_.max_batch_bytes));
  return {};
}

Result<AppendTicket> PartitionLog::append(std::span<const StreamEntry> entries, CommitDone done) {
  if (Status st = check_entries(entries); !st) return st.error();
  const std::int64_t now = now_ms();
  std::lock_guard lk(mutex_);
  if (closed_) return failure("stream partition is closed");
  // Encoded under the lock: the batch's offsets and timestamp floor are
  // the log's. (The CRC could move out with a reseal; not measured yet.)
  std::string batch;
  batch.reserve(kBatchHeaderBytes + entries.size() * 64);
  encode_batch(batch, entries, next_, now, last_timestamp_, epoch_);
  BatchHeader h;
  std::string why;
  const bool ok = parse_batch_header(batch, kMaxBatchBytesLimit, h, why);
  FERRY_ASSERT(ok);
  return write_batch_locked(batch, h, std::move(done));
}

Result<AppendTicket> PartitionLog::append_replicated(std::span<const char> batches, CommitDone done) {
  std::lock_guard lk(mutex_);
  if (closed_) return failure("stream partition is closed");
  // Checked whole first: a bad fetch appends nothing.
  std::vector<BatchHeader> headers;
  StreamOffset expect = next_;
  std::uint64_t pos = 0;
  while (pos < batches.size()) {
    BatchHeader h;
    std::string why;
    if (!check_batch(batches.subspan(static_cast<std::size_t>(pos)), options_.max_batch_bytes, h, why))
      return failure("bad replicated batch", "at byte " + std::to_string(pos) + ": " + why);
    if (h.base != expect)
      return failure("bad replicated batch", "base offset " + std::to_string(h.base.value) + ", expected " +
                                                 std::to_string(expect.value));
    const std::uint32_t floor = headers.empty() ? epoch_ : headers.back().epoch;
    if (h.epoch < floor)
      return failure("bad replicated batch", "leader epoch " + std::to_string(h.epoch) + " below " +
                                                 std::to_string(floor));
    headers.push_back(h);
    expect = h.next();
    pos += h.size;
  }
  if (headers.empty()) return failure("bad replicated batch", "no batch");
  // Written one by one (each may roll); on an error the batches before it
  // stay appended (written_end() says how far) and `done` is not called.
  AppendTicket ticket{next_, 0};
  pos = 0;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const BatchHeader& h = headers[i];
    const std::string_view bytes(batches.data() + pos, static_cast<std::size_t>(h.size));
    auto r = write_batch_locked(bytes, h, i + 1 == headers.size() ? std::move(done) : CommitDone{});
    if (!r) return r.error();
    ticket.count += h.count;
    pos += h.size;
  }
  return ticket;
}

Result<AppendTicket> PartitionLog::write_batch_locked(std::string_view batch, const BatchHeader& h,
                                                      CommitDone done) {
  Segment* active = segments_.rbegin()->second.get();
  if (!active->file) {
    if (auto f = acquire_locked(*active); !f) return f.error();
  }
  if (cut_owed_) {
    if (auto st = active->file->truncate(active->size); !st.ok()) return failure(failure_text(st));
    cut_owed_ = false;
  }
  const bool full = active->size > kSegmentHeaderBytes && active->size + batch.size() > options_.max_segment_bytes;
  // Relative offsets in the index are u32.
  const bool offsets_full = h.next().value - active->base.value >= (1ull << 32);
  if (full || offsets_full) {
    if (Status st = roll_locked(); !st) return st.error();
    active = segments_.rbegin()->second.get();
  }
  if (auto st = active->file->write_at(active->size, std::span<const char>(batch.data(), batch.size())); !st.ok()) {
    // Some prefix may have landed: cut it now, or before the next write.
    cut_owed_ = !active->file->truncate(active->size).ok();
    return failure(failure_text(st));
  }
  active->index.add_batch(h, active->size);
  active->size += batch.size();
  const AppendTicket ticket{h.base, h.count};
  next_ = h.next();
  last_timestamp_ = std::max(last_timestamp_, h.last_timestamp);
  epoch_ = std::max(epoch_, h.epoch);
  pending_.push_back(Pending{h.base, h.count, active->base, active->size, std::move(done)});
  return ticket;
}

// Seals the active segment and starts the next. The old one is synced
// first (unless kNever), so that a segment file exists only when every
// earlier one is whole on disk: recovery then cuts only the last one.
Status PartitionLog::roll_locked() {
  Segment& old = *segments_.rbegin()->second;
  if (options_.fsync != store::FsyncPolicy::kNever && old.synced < old.size) {
    if (auto st = old.file->sync(); !st.ok()) return failure(failure_text(st));
  }
  old.synced = old.size;
  write_index_files(old);
  return create_segment_locked(next_);
}

Status PartitionLog::truncate_to(StreamOffset offset) {
  std::lock_guard sync_lk(sync_mutex_);
  std::vector<Pending> failed;
  {
    std::lock_guard lk(mutex_);
    if (closed_) return failure("stream partition is closed");
    if (offset == next_) return {};
    const StreamOffset first = segments_.begin()->first;
    if (offset > next_ || offset < first)
      return failure("cannot truncate the stream", "offset " + std::to_string(offset.value) + " outside [" +
                                                       std::to_string(first.value) + ", " +
                                                       std::to_string(next_.value) + "]");
    Segment& s = *segment_for_locked(offset);
    auto f = acquire_locked(s);
    if (!f) return f.error();
    std::shared_ptr<store::File> file = *f;
    // The batch starting at `offset` (a rare operation: read under the lock).
    const SegmentIndex::Hit hit = s.index.lookup_offset(offset);
    std::uint64_t cut = hit.position;
    StreamOffset at = hit.offset;
    while (at < offset) {
      BatchHeader h;
      std::string why;
      store::IoStatus io;
      if (!read_batch_header(*file, cut, s.size, h, why, io))
        return failure("corrupt stream batch", where(s.base, s.path, cut) + ": " + why);
      at = h.next();
      cut += h.size;
    }
    if (at != offset)
      return failure("cannot truncate the stream", "offset " + std::to_string(offset.value) +
                                                       " is inside a batch");
    // What stays is checked whole before anything is cut: it becomes the
    // active segment, whose index must end exactly at the new end.
    SegmentIndex rebuilt(s.base, options_.index_interval_bytes);
    const SegmentFileScan scan = scan_segment_file(*file, kSegmentHeaderBytes, cut, rebuilt);
    if (!scan.io.ok()) return failure("cannot read stream segment", scan.io.to_string());
    if (scan.valid_end != cut)
      return failure("corrupt stream batch", where(s.base, s.path, scan.valid_end) + ": " + scan.why);
    for (Pending& p : pending_) failed.push_back(std::move(p));
    pending_.clear();
    while (segments_.rbegin()->first > s.base) {
      auto it = std::prev(segments_.end());
      if (it->second->file) --open_files_;
      (void)env_.remove_file(it->second->path);
      remove_index_files(it->first);
      segments_.erase(it);
      dir_dirty_ = true;
    }
    store::IoStatus st = file->truncate(cut);
    if (st.ok() && options_.fsync != store::FsyncPolicy::kNever) st = file->sync();
    if (!st.ok()) cut_owed_ = true;
    s.size = s.synced = s.committed = cut;
    s.index = std::move(rebuilt);
    remove_index_files(s.base);  // the active segment again
    next_ = committed_ = offset;
    committed_segment_ = s.base;
    committed_last_batch_ = offset;
    for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
      if (!it->second->index.empty()) {
        committed_last_batch_ = it->second->index.last_batch_base();
        break;
      }
    }
    if (!st.ok()) {
      spdlog::error("stream {}: cannot cut for truncation: {}", options_.directory, st.to_string());
      for (Pending& p : failed)
        if (p.done) p.done(CommitResult{false, "stream truncated", p.first, p.count});
      return failure(failure_text(st));
    }
  }
  for (Pending& p : failed)
    if (p.done) p.done(CommitResult{false, "stream truncated", p.first, p.count});
  return {};
}

Status PartitionLog::set_leader_epoch(std::uint32_t epoch) {
  std::lock_guard lk(mutex_);
  if (epoch < epoch_)
    return failure("stale leader epoch", std::to_string(epoch) + " < " + std::to_string(epoch_));
  epoch_ = epoch;
  return {};
}

std::uint32_t PartitionLog::leader_epoch() const {
  std::lock_guard lk(mutex_);
  return epoch_;
}

bool PartitionLog::needs_sync() const {
  std::lock_guard lk(mutex_);
  return !pending_.empty() || dir_dirty_;
}

Status PartitionLog::sync() {
  std::lock_guard sync_lk(sync_mutex_);
  std::vector<std::pair<std::shared_ptr<store::File>, std::pair<StreamOffset, std::uint64_t>>> files;
  std::size_t n = 0;
  Pending target;
  bool dir = false;
  {
    std::lock_guard lk(mutex_);
    if (pending_.empty() && !dir_dirty_) return {};
    n = pending_.size();
    if (n > 0) {
      target.first = pending_.back().first;
      target.count = pending_.back().count;
      target.segment = pending_.back().segment;
      target.end = pending_.back().end;
    }
    for (auto it = segments_.lower_bound(committed_segment_); it != segments_.end(); ++it) {
      Segment& s = *it->second;
      if (s.synced < s.size && s.file) files.push_back({s.file, {s.base, s.size}});
    }
    dir = dir_dirty_;
    dir_dirty_ = false;
  }
  // Appends go on meanwhile; the next sync covers them (group commit).
  store::IoStatus st;
  if (options_.fsync != store::FsyncPolicy::kNever) {
    for (auto& [file, at] : files) {
      if (st = file->sync(); !st.ok()) break;
    }
    if (st.ok() && dir) st = env_.sync_dir(options_.directory);
  }
  std::vector<Pending> done;
  StreamOffset end;
  {
    std::lock_guard lk(mutex_);
    if (!st.ok()) {
      // After a failed fdatasync the kernel may have dropped the pages and
      // would not say so again: nothing uncommitted can be trusted.
      if (dir) dir_dirty_ = true;
      rollback_locked(done);
    } else {
      for (auto& [file, at] : files) {
        auto it = segments_.find(at.first);
        if (it != segments_.end()) it->second->synced = std::max(it->second->synced, at.second);
      }
      if (n > 0) {
        for (auto it = segments_.lower_bound(committed_segment_); it != segments_.end(); ++it) {
          Segment& s = *it->second;
          if (s.base < target.segment) s.committed = s.size;
          else if (s.base == target.segment) s.committed = target.end;
        }
        committed_ = StreamOffset{target.first.value + target.count};
        committed_last_batch_ = target.first;
        committed_segment_ = target.segment;
        done.reserve(n);
        for (std::size_t i = 0; i < n; ++i) done.push_back(std::move(pending_[i]));
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
      }
    }
    end = committed_;
  }
  const std::string error = st.ok() ? std::string() : failure_text(st);
  for (Pending& p : done) {
    if (p.done) p.done(CommitResult{st.ok(), error, p.first, p.count});
  }
  if (!st.ok()) {
    spdlog::error("stream {}: {} ({}); uncommitted entries failed", options_.directory, error, st.to_string());
    return failure(error);
  }
  if (n > 0 && options_.on_commit) options_.on_commit(end);
  return {};
}

// Cuts every uncommitted byte: segments created after the committed one
// go, the committed one is cut back to its committed size (and is the
// active segment again, its index rebuilt), and the offsets return to the
// end offset. The pending appends move to `failed`.
void PartitionLog::rollback_locked(std::vector<Pending>& failed) {
  for (Pending& p : pending_) failed.push_back(std::move(p));
  pending_.clear();
  while (segments_.size() > 1 && segments_.rbegin()->first > committed_segment_) {
    auto it = std::prev(segments_.end());
    if (it->second->file) --open_files_;
    (void)env_.remove_file(it->second->path);
    remove_index_files(it->first);
    segments_.erase(it);
  }
  Segment& s = *segments_.rbegin()->second;
  if (s.size != s.committed) {
    auto file = acquire_locked(s);
    if (file) {
      cut_owed_ = !(*file)->truncate(s.committed).ok();
      s.size = s.committed;
      s.synced = std::min(s.synced, s.size);
      SegmentIndex rebuilt(s.base, options_.index_interval_bytes);
      const SegmentFileScan scan = scan_segment_file(**file, kSegmentHeaderBytes, s.committed, rebuilt);
      if (scan.valid_end != s.committed) {
        // Committed bytes that no longer read back (a damaged disk): the
        // log ends where they start, so that offsets stay contiguous.
        spdlog::error("stream {}: after a failed write, {}: {}; the log now ends at offset {}",
                      options_.directory, where(s.base, s.path, scan.valid_end), scan.why, rebuilt.next().value);
        cut_owed_ = !(*file)->truncate(scan.valid_end).ok();
        s.size = s.synced = s.committed = scan.valid_end;
        committed_ = rebuilt.next();
        if (!rebuilt.empty()) committed_last_batch_ = rebuilt.last_batch_base();
      }
      s.index = std::move(rebuilt);
    } else {
      cut_owed_ = true;
      s.size = s.committed;
    }
  }
  remove_index_files(s.base);  // it is the active segment again
  next_ = committed_;
  last_timestamp_ = 0;
  for (const auto& [base, seg] : segments_) last_timestamp_ = std::max(last_timestamp_, seg->index.max_timestamp());
}

Result<std::shared_ptr<store::File>> PartitionLog::acquire_locked(Segment& s) {
  s.used = ++use_tick_;
  if (!s.file) {
    std::unique_ptr<store::File> f;
    if (auto st = env_.open_file(s.path, false, f); !st.ok()) return failure("cannot read stream segment", st.to_string());
    s.file = std::shared_ptr<store::File>(std::move(f));
    ++open_files_;
    close_idle_files_locked();
  }
  return s.file;
}

void PartitionLog::close_idle_files_locked() {
  while (open_files_ > options_.max_open_files) {
    Segment* victim = nullptr;
    const StreamOffset active = segments_.rbegin()->first;
    for (auto& [base, seg] : segments_) {
      if (base == active || !seg->file) continue;
      if (victim == nullptr || seg->used < victim->used) victim = seg.get();
    }
    if (victim == nullptr) return;
    victim->file.reset();  // a read in progress keeps its own reference
    --open_files_;
  }
}

StreamOffset PartitionLog::first_offset() const {
  std::lock_guard lk(mutex_);
  return segments_.begin()->first;
}
StreamOffset PartitionLog::end_offset() const {
  std::lock_guard lk(mutex_);
  return committed_;
}
StreamOffset PartitionLog::written_end() const {
  std::lock_guard lk(mutex_);
  return next_;
}

ReaderPosition PartitionLog::end_position_locked() const {
  const Segment& s = *segments_.at(committed_segment_);
  return {committed_, s.base, s.committed, s.generation};
}

ReaderPosition PartitionLog::first_position_locked() const {
  const Segment& s = *segments_.begin()->second;
  return {s.base, s.base, kSegmentHeaderBytes, s.generation};
}

PartitionLog::Segment* PartitionLog::segment_for_locked(StreamOffset offset) {
  auto it = segments_.upper_bound(offset);
  if (it == segments_.begin()) return nullptr;
  return std::prev(it)->second.get();
}

Result<ReaderPosition> PartitionLog::resolve(const OffsetSpec& spec) {
  switch (spec.kind) {
    case OffsetSpec::Kind::kFirst: {
      std::lock_guard lk(mutex_);
      if (segments_.begin()->first >= committed_) return end_position_locked();
      return first_position_locked();
    }
    case OffsetSpec::Kind::kNext: {
      std::lock_guard lk(mutex_);
      return end_position_locked();
    }
    case OffsetSpec::Kind::kLast: {
      StreamOffset last;
      {
        std::lock_guard lk(mutex_);
        if (segments_.begin()->first >= committed_) return end_position_locked();
        last = committed_last_batch_;
      }
      return locate(last);
    }
    case OffsetSpec::Kind::kOffset:
      return locate(StreamOffset{spec.value});
    case OffsetSpec::Kind::kTimestamp:
      return locate_time(static_cast<std::int64_t>(std::min<std::uint64_t>(spec.value, INT64_MAX)));
  }
  return failure("bad offset spec");
}

// The batch holding `offset`: the index's nearest batch at or before it,
// then batch headers walked forward (at most about one index interval).
Result<ReaderPosition> PartitionLog::locate(StreamOffset offset) {
  std::uint32_t generation = 0;
  std::shared_ptr<store::File> file;
  SegmentIndex::Hit hit;
  std::uint64_t end = 0;
  StreamOffset base;
  std::string path;
  {
    std::lock_guard lk(mutex_);
    const StreamOffset first = segments_.begin()->first;
    if (offset < first) offset = first;
    if (offset >= committed_) return end_position_locked();
    Segment* s = segment_for_locked(offset);
    FERRY_ASSERT(s != nullptr);
    auto f = acquire_locked(*s);
    if (!f) return f.error();
    file = *f;
    hit = s->index.lookup_offset(offset);
    end = s->committed;
    base = s->base;
    path = s->path;
    generation = s->generation;
  }
  std::uint64_t pos = hit.position;
  StreamOffset expect = hit.offset;
  while (pos < end) {
    BatchHeader h;
    std::string why;
    store::IoStatus io;
    if (!read_batch_header(*file, pos, end, h, why, io))
      return failure("corrupt stream batch", where(base, path, pos) + ": " + why);
    if (h.base != expect)
      return failure("corrupt stream batch", where(base, path, pos) + ": base offset " +
                                                 std::to_string(h.base.value) + ", expected " +
                                                 std::to_string(expect.value));
    if (offset < h.next()) return ReaderPosition{offset, base, pos, generation};
    expect = h.next();
    pos += h.size;
  }
  // Not in the committed part of that segment (a rollback raced us).
  std::lock_guard lk(mutex_);
  return end_position_locked();
}

// The first entry with timestamp >= t: the first segment whose newest entry
// is that recent, its time index, then batch headers (a batch whose last
// timestamp is older is skipped whole), then the entries of one batch.
Result<ReaderPosition> PartitionLog::locate_time(std::int64_t t) {
  std::uint32_t generation = 0;
  std::shared_ptr<store::File> file;
  SegmentIndex::Hit hit;
  std::uint64_t end = 0;
  StreamOffset base;
  std::string path;
  {
    std::lock_guard lk(mutex_);
    Segment* found = nullptr;
    for (auto& [b, s] : segments_) {
      if (b >= committed_) break;
      if (!s->index.empty() && s->index.max_timestamp() >= t) {
        found = s.get();
        break;
      }
    }
    if (found == nullptr) return end_position_locked();
    auto f = acquire_locked(*found);
    if (!f) return f.error();
    file = *f;
    hit = found->index.lookup_time(t);
    end = found->committed;
    base = found->base;
    path = found->path;
    generation = found->generation;
  }
  std::uint64_t pos = hit.position;
  std::string buf;
  while (pos < end) {
    BatchHeader h;
    std::string why;
    store::IoStatus io;
    if (!read_batch_header(*file, pos, end, h, why, io))
      return failure("corrupt stream batch", where(base, path, pos) + ": " + why);
    if (h.last_timestamp >= t) {
      buf.resize(static_cast<std::size_t>(h.size));
      std::size_t got = 0;
      io = file->read_at(pos, std::span<char>(buf.data(), buf.size()), got);
      if (!io.ok()) return failure("cannot read stream segment", io.to_string());
      if (got < buf.size() || !check_batch(std::span<const char>(buf.data(), got), kMaxBatchBytesLimit, h, why))
        return failure("corrupt stream batch", where(base, path, pos) + ": " + (why.empty() ? "short read" : why));
      StreamOffset at = h.base;
      (void)for_each_entry(std::span<const char>(buf.data(), buf.size()), h, [&](const EntryView& e) {
        at = e.offset;
        return e.timestamp_ms < t;
      });
      return ReaderPosition{at, base, pos, generation};
    }
    pos += h.size;
  }
  std::lock_guard lk(mutex_);
  return end_position_locked();
}

Result<ReadResult> PartitionLog::read(ReaderPosition& pos, std::size_t max_bytes, std::size_t max_entries) {
  ReadResult out;
  if (max_entries == 0) max_entries = 1;
  // Whether the bytes at pos were cut while we read them (truncate_to, a
  // failed sync's rollback): then the position is found again, not an Error.
  const auto cut_meanwhile = [&](const ReaderPosition& at, std::uint64_t need_end) {
    std::lock_guard lk(mutex_);
    auto it = segments_.find(at.segment);
    return it == segments_.end() || it->second->committed < need_end;
  };
  for (int hops = 0;; ++hops) {
    std::shared_ptr<store::File> file;
    std::uint64_t end = 0;
    std::string path;
    bool stale = false;
    {
      std::lock_guard lk(mutex_);
      if (pos.next < segments_.begin()->first) {
        // Retention deleted what the reader was at: on to the first offset.
        pos = first_position_locked();
        out.repositioned = true;
      }
      if (pos.next > committed_) pos = end_position_locked();  // after a rollback
      auto it = segments_.find(pos.segment);
      stale = it == segments_.end() || pos.position < kSegmentHeaderBytes || pos.position > it->second->committed ||
              pos.next < it->first || pos.next > it->second->index.next() ||
              pos.generation != it->second->generation;  // compaction moved the batches
      if (!stale) {
        Segment& s = *it->second;
        if (pos.position == s.committed) {
          // At the end of what is readable here: the next segment's start
          // once this one is complete and committed, else the tail.
          auto nx = std::next(it);
          if (nx != segments_.end() && s.committed == s.size && pos.next == s.index.next() &&
              nx->first <= committed_) {
            pos = ReaderPosition{nx->first, nx->first, kSegmentHeaderBytes, nx->second->generation};
            continue;
          }
          out.from = out.next = pos.next;
          return out;
        }
        auto f = acquire_locked(s);
        if (!f) return f.error();
        file = *f;
        end = s.committed;
        path = s.path;
      }
    }
    if (stale) {
      // Not a position this log gave out, or its segment went: found again
      // by offset (clamped into [first, end]).
      if (hops > 2) return failure("stream reader position lost", "offset " + std::to_string(pos.next.value));
      auto found = locate(pos.next);
      if (!found) return found.error();
      pos = *found;
      continue;
    }
    BatchHeader h;
    std::string why;
    store::IoStatus io;
    if (!read_batch_header(*file, pos.position, end, h, why, io)) {
      if (hops < 8 && cut_meanwhile(pos, pos.position + kBatchHeaderBytes)) continue;
      return failure("corrupt stream batch", where(pos.segment, path, pos.position) + ": " + why);
    }
    if (!(h.base <= pos.next && pos.next < h.next()))
      return failure("corrupt stream batch", where(pos.segment, path, pos.position) + ": holds offsets " +
                                                 std::to_string(h.base.value) + ".." + std::to_string(h.next().value) +
                                                 ", expected " + std::to_string(pos.next.value));
    const std::uint64_t want = std::max<std::uint64_t>(h.size, std::min<std::uint64_t>(max_bytes, end - pos.position));
    out.bytes.resize(static_cast<std::size_t>(want));
    std::size_t got = 0;
    io = file->read_at(pos.position, std::span<char>(out.bytes.data(), out.bytes.size()), got);
    if (!io.ok()) return failure("cannot read stream segment", io.to_string());
    out.from = pos.next;
    std::uint64_t p = 0;
    std::uint64_t counted = 0;
    StreamOffset next = pos.next;
    bool whole_last = true;
    while (p < got) {
      const std::span<const char> rest(out.bytes.data() + p, got - static_cast<std::size_t>(p));
      BatchHeader b;
      if (rest.size() < kBatchHeaderBytes) break;
      if (!parse_batch_header(rest, kMaxBatchBytesLimit, b, why))
        return failure("corrupt stream batch", where(pos.segment, path, pos.position + p) + ": " + why);
      if (b.size > rest.size()) {
        break;  // the next batch did not fit in max_bytes (or, first, was cut: below)
      }
      if (!check_batch(rest, kMaxBatchBytesLimit, b, why))
        return failure("corrupt stream batch", where(pos.segment, path, pos.position + p) + ": " + why);
      if (p > 0 && b.base != next)
        return failure("corrupt stream batch", where(pos.segment, path, pos.position + p) + ": base offset " +
                                                   std::to_string(b.base.value) + ", expected " +
                                                   std::to_string(next.value));
      out.batches.push_back(b);
      p += b.size;
      if (b.hole()) {
        // Entries compaction removed: skipped, and not counted against
        // max_entries (the reader goes on to the next kept one).
        next = b.next();
        continue;
      }
      const StreamOffset start = std::max(b.base, pos.next);
      const std::uint64_t avail = b.next().value - start.value;
      if (counted + avail >= max_entries) {
        next = StreamOffset{start.value + (max_entries - counted)};
        whole_last = next == b.next();
        break;
      }
      counted += avail;
      next = b.next();
    }
    if (p == 0) {
      // Fewer bytes than the batch's header said: cut meanwhile (find the
      // position again) or damaged.
      if (hops < 8 && cut_meanwhile(pos, pos.position + h.size)) {
        const bool repositioned = out.repositioned;
        out = ReadResult{};
        out.repositioned = repositioned;
        continue;
      }
      return failure("corrupt stream batch", where(pos.segment, path, pos.position) + ": short read");
    }
    out.bytes.resize(static_cast<std::size_t>(p));
    out.next = next;
    const std::uint64_t last_size = out.batches.back().size;
    pos.position += whole_last ? p : p - last_size;
    pos.next = next;
    return out;
  }
}

namespace {

// A segment as compact() sees it: taken under the mutex, then read without.
// A key as compaction's offset map holds it (Kafka's cleaner does the
// same): a 128-bit digest instead of the key, so the map's size does not
// depend on key lengths. Two independent 64-bit hashes; a collision (about
// n^2 / 2^129) would make an entry look superseded by another key's.
struct KeyDigest {
  std::uint64_t a = 0, b = 0;
  bool operator==(const KeyDigest&) const = default;
};
struct KeyDigestHash {
  std::size_t operator()(const KeyDigest& d) const { return static_cast<std::size_t>(d.a); }
};
// What one key costs in the map (digest, offset, node links, the
// allocator's share and the bucket array): the bound counts keys by it.
constexpr std::uint64_t kCompactionBytesPerKey = 64;

KeyDigest digest_of(std::string_view key) {
  std::uint64_t fnv = 14695981039346656037ull;  // FNV-1a
  for (const char c : key) fnv = (fnv ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return {static_cast<std::uint64_t>(std::hash<std::string_view>{}(key)), fnv};
}

struct SegmentSnapshot {
  StreamOffset base;
  std::string path;
  std::shared_ptr<store::File> file;
  std::uint64_t size = 0;  // committed bytes
};

// Walks the batches of [kSegmentHeaderBytes, end), each checked; visit gets
// each batch's bytes and header. An Error names the segment on corruption.
Status walk_batches(const SegmentSnapshot& s, const std::function<Status(std::string_view, const BatchHeader&)>& visit) {
  std::string buf;
  std::uint64_t pos = kSegmentHeaderBytes;
  while (pos < s.size) {
    BatchHeader h;
    std::string why;
    store::IoStatus io;
    if (!read_batch_header(*s.file, pos, s.size, h, why, io))
      return failure("corrupt stream batch", where(s.base, s.path, pos) + ": " + (io.ok() ? why : io.to_string()));
    buf.resize(static_cast<std::size_t>(h.size));
    std::size_t got = 0;
    io = s.file->read_at(pos, std::span<char>(buf.data(), buf.size()), got);
    if (!io.ok()) return failure("cannot read stream segment", io.to_string());
    if (got < buf.size() || !check_batch(std::span<const char>(buf.data(), got), kMaxBatchBytesLimit, h, why))
      return failure("corrupt stream batch", where(s.base, s.path, pos) + ": " + (why.empty() ? "short read" : why));
    if (Status st = visit(std::string_view(buf.data(), buf.size()), h); !st) return st;
    pos += h.size;
  }
  return {};
}

}  // namespace

// docs/streams.md "Compaction".
Result<CompactionStats> PartitionLog::compact(std::int64_t now_ms) {
  std::lock_guard compacting(compact_mutex_);
  CompactionStats stats;
  std::vector<SegmentSnapshot> all;  // every committed segment, for the keys' last offsets
  std::size_t candidates = 0;        // the first `candidates` of `all` may be rewritten
  std::vector<StreamOffset> ends;    // of each candidate
  StreamOffset sealed_end;
  StreamOffset dirty_from;           // compacted_through_ when the run began
  {
    std::lock_guard lk(mutex_);
    if (closed_) return stats;
    // As retention: whole, sealed, and not the one holding the last batch
    // (`last` must find it). Decided before any file is opened: most calls
    // find nothing new.
    for (auto& [b, seg] : segments_) {
      if (b >= committed_segment_ || seg->index.next() > committed_last_batch_) break;
      ++candidates;
      sealed_end = seg->index.next();
      ends.push_back(sealed_end);
    }
    dirty_from = compacted_through_;
    if (candidates == 0 || (sealed_end <= compacted_through_ && !tombstones_waiting_)) {
      stats.skipped = true;
      return stats;
    }
    for (auto& [b, seg] : segments_) {
      if (b >= committed_ || seg->committed == 0) break;
      auto f = acquire_locked(*seg);
      if (!f) return f.error();
      all.push_back({b, seg->path, *f, seg->committed});
    }
    candidates = std::min(candidates, all.size());
  }
  // Pass 1, Kafka's offset map: each key's last offset in the part written
  // since the last run (the dirty part; what came before was compacted
  // then, so it holds each of its keys once). At most
  // compaction_buffer_bytes of map: a dirty part with more keys is mapped
  // up to a batch boundary (`map_end`), the segments before it compacted,
  // and the rest waits for the next run, which starts there.
  const std::size_t max_keys =
      std::max<std::uint64_t>(options_.compaction_buffer_bytes / kCompactionBytesPerKey, 1024);
  std::unordered_map<KeyDigest, std::uint64_t, KeyDigestHash> last;
  StreamOffset map_end{UINT64_MAX};
  const Status full = failure("compaction offset map full");
  for (const SegmentSnapshot& s : all) {
    Status st = walk_batches(s, [&](std::string_view bytes, const BatchHeader& h) -> Status {
      if (h.hole() || h.next() <= dirty_from) return {};
      if (!last.empty() && last.size() + h.count > max_keys) {
        map_end = h.base;
        return full;
      }
      (void)for_each_entry(std::span<const char>(bytes.data(), bytes.size()), h, [&](const EntryView& e) {
        if (e.key && e.offset >= dirty_from) last.insert_or_assign(digest_of(*e.key), e.offset.value);
        return true;
      });
      return {};
    });
    if (map_end.value != UINT64_MAX) break;
    if (!st) return st.error();
  }
  stats.keys_mapped = last.size();
  // Only segments the map covers whole.
  while (candidates > 0 && ends[candidates - 1] > map_end) --candidates;
  const std::int64_t tombstone_horizon = now_ms - options_.retention.delete_retention_ms;
  bool tombstones_waiting = false;
  // Pass 2: each candidate rewritten to <name>.tmp, then swapped in.
  for (std::size_t i = 0; i < candidates; ++i) {
    const SegmentSnapshot& s = all[i];
    const std::string tmp = s.path + ".tmp";
    (void)env_.remove_file(tmp);
    std::unique_ptr<store::File> out_file;
    if (auto st = env_.open_file(tmp, true, out_file); !st.ok())
      return failure("stream compaction failed", st.to_string());
    std::string out = encode_segment_header(s.base);
    std::uint64_t written = 0;
    std::uint64_t removed = 0;
    store::IoStatus io;
    const auto flush = [&](bool all_of_it) {
      if (!io.ok() || out.empty() || (!all_of_it && out.size() < (1u << 20))) return;
      io = out_file->write_at(written, std::span<const char>(out.data(), out.size()));
      written += out.size();
      out.clear();
    };
    // A run of removed offsets becomes one hole batch (a count is a u32).
    struct Hole {
      StreamOffset base;
      std::uint32_t count = 0;
      std::int64_t first = 0, last = 0;
      std::uint32_t epoch = 0;
    } hole;
    const auto end_hole = [&] {
      if (hole.count == 0) return;
      encode_hole(out, hole.base, hole.count, hole.first, hole.last, hole.epoch);
      hole.count = 0;
      flush(false);
    };
    const auto add_hole = [&](StreamOffset at, std::uint32_t n, std::int64_t first, std::int64_t last_ts,
                              std::uint32_t epoch) {
      if (hole.count != 0 && (hole.base.value + hole.count != at.value || hole.count > UINT32_MAX - n)) end_hole();
      if (hole.count == 0) {
        hole.base = at;
        hole.first = first;
        hole.last = last_ts;
        hole.epoch = epoch;
      }
      hole.count += n;
      hole.last = std::max(hole.last, last_ts);
      hole.epoch = std::max(hole.epoch, epoch);
    };
    Status walked = walk_batches(s, [&](std::string_view bytes, const BatchHeader& h) -> Status {
      if (h.hole()) {
        add_hole(h.base, h.count, h.first_timestamp, h.last_timestamp, h.epoch);
        return {};
      }
      std::vector<StreamEntry> run;  // kept entries since the last removed one
      StreamOffset run_base;
      std::uint32_t kept_here = 0;
      const auto end_run = [&] {
        if (run.empty()) return;
        end_hole();
        encode_batch(out, run, run_base, run.front().timestamp_ms, run.front().timestamp_ms, h.epoch);
        run.clear();
        flush(false);
      };
      std::string copy;  // the batch as it is, when every entry stays
      (void)for_each_entry(std::span<const char>(bytes.data(), bytes.size()), h, [&](const EntryView& e) {
        bool keep = true;
        if (e.key) {
          // Superseded: its key comes again later (in the dirty part).
          const auto it = last.find(digest_of(*e.key));
          const bool superseded = it != last.end() && it->second > e.offset.value;
          const bool tombstone = e.body.empty();
          keep = !superseded && !(tombstone && e.timestamp_ms < tombstone_horizon);
          if (keep && tombstone) tombstones_waiting = true;
          if (keep && tombstone) ++stats.tombstones_kept;
        }
        if (!keep) {
          end_run();
          ++removed;
          add_hole(e.offset, 1, e.timestamp_ms, e.timestamp_ms, h.epoch);
          return true;
        }
        ++kept_here;
        if (run.empty()) run_base = e.offset;
        StreamEntry k;
        if (e.key) k.key = std::string(*e.key);
        for (const auto& [n, v] : e.headers) k.headers.emplace_back(std::string(n), std::string(v));
        k.body = std::string(e.body);
        k.timestamp_ms = e.timestamp_ms;
        run.push_back(std::move(k));
        return true;
      });
      if (kept_here == h.count) {
        // Untouched: the batch as written (CRC, epoch and all).
        end_hole();
        out.append(bytes);
        flush(false);
      } else {
        end_run();
      }
      return {};
    });
    end_hole();
    flush(true);
    if (!walked || !io.ok() || removed == 0 || written > kMaxSegmentBytesLimit) {
      out_file.reset();
      (void)env_.remove_file(tmp);
      if (!walked) return walked.error();
      if (!io.ok()) return failure("stream compaction failed", failure_text(io));
      continue;  // nothing to remove here
    }
    if (options_.fsync != store::FsyncPolicy::kNever) io = out_file->sync();
    SegmentIndex index(s.base, options_.index_interval_bytes);
    const SegmentFileScan scan = io.ok() ? scan_segment_file(*out_file, kSegmentHeaderBytes, written, index)
                                         : SegmentFileScan{};
    if (!io.ok() || scan.valid_end != written) {
      out_file.reset();
      (void)env_.remove_file(tmp);
      if (!io.ok()) return failure("stream compaction failed", failure_text(io));
      return failure("stream compaction failed", where(s.base, tmp, scan.valid_end) + ": " + scan.why);
    }
    {
      std::lock_guard lk(mutex_);
      auto it = segments_.find(s.base);
      // Deleted by retention, or changed (a follower's truncate_to) meanwhile.
      if (closed_ || it == segments_.end() || it->second->committed != s.size || it->second->size != s.size ||
          index.next() != it->second->index.next()) {
        out_file.reset();
        (void)env_.remove_file(tmp);
        continue;
      }
      Segment& seg = *it->second;
      // The old index files describe the old file: gone first (a crash
      // after the rename rebuilds them from the new file anyway).
      remove_index_files(seg.base);
      if (auto st = env_.rename_file(tmp, seg.path); !st.ok()) {
        out_file.reset();
        (void)env_.remove_file(tmp);
        write_index_files(seg);
        return failure("stream compaction failed", st.to_string());
      }
      if (!seg.file) ++open_files_;
      seg.file = std::shared_ptr<store::File>(std::move(out_file));  // readers in a read keep the old one
      seg.size = seg.synced = seg.committed = written;
      seg.index = std::move(index);
      seg.generation = ++generations_;
      seg.used = ++use_tick_;
      write_index_files(seg);
      close_idle_files_locked();
    }
    if (options_.fsync != store::FsyncPolicy::kNever) {
      if (auto st = env_.sync_dir(options_.directory); !st.ok())
        spdlog::warn("stream {}: compaction: cannot sync the directory: {}", options_.directory, st.to_string());
    }
    ++stats.segments_rewritten;
    stats.entries_removed += removed;
    stats.bytes_before += s.size;
    stats.bytes_after += written;
  }
  {
    std::lock_guard lk(mutex_);
    tombstones_waiting_ = tombstones_waiting;
    // A failed run returned above: it is tried again next time.
    compacted_through_ = std::min(sealed_end, map_end);
  }
  if (stats.segments_rewritten != 0)
    spdlog::info("stream {}: compaction rewrote {} segments: {} entries removed, {} -> {} bytes", options_.directory,
                 stats.segments_rewritten, stats.entries_removed, stats.bytes_before, stats.bytes_after);
  return stats;
}

Result<RetentionStats> PartitionLog::apply_retention(std::int64_t now_ms) {
  RetentionStats stats;
  std::vector<StreamOffset> gone;
  {
    std::lock_guard lk(mutex_);
    const RetentionPolicy& r = options_.retention;
    std::uint64_t total = 0;
    for (const auto& [b, s] : segments_) total += s->size;
    while (segments_.size() > 1) {
      auto it = segments_.begin();
      Segment& s = *it->second;
      // Only whole, committed, sealed segments: never the active one, never
      // one holding the end offset or the last batch (`last` must find it;
      // after a restart the active segment can be empty).
      if (s.base >= committed_segment_ || s.index.next() > committed_last_batch_) break;
      const bool over_size = r.max_bytes > 0 && total > r.max_bytes;
      const bool too_old = r.max_age_ms > 0 && !s.index.empty() && s.index.max_timestamp() < now_ms - r.max_age_ms;
      if (!over_size && !too_old) break;
      total -= s.size;
      ++stats.segments_deleted;
      stats.bytes_deleted += s.size;
      if (s.file) --open_files_;
      gone.push_back(s.base);
      segments_.erase(it);
    }
    stats.first = segments_.begin()->first;
  }
  // Files go outside the lock; readers still in a read keep theirs open.
  for (const StreamOffset b : gone) {
    if (auto st = env_.remove_file(log_path(b)); !st.ok() && st.code != ENOENT)
      spdlog::warn("stream {}: cannot delete segment: {}", options_.directory, st.to_string());
    remove_index_files(b);
  }
  return stats;
}

std::uint64_t PartitionLog::disk_bytes() const {
  std::lock_guard lk(mutex_);
  std::uint64_t total = 0;
  for (const auto& [b, s] : segments_) total += s->size;
  return total;
}

std::uint64_t PartitionLog::segment_count() const {
  std::lock_guard lk(mutex_);
  return segments_.size();
}

std::uint32_t PartitionLog::open_files() const {
  std::lock_guard lk(mutex_);
  return open_files_;
}

std::size_t PartitionLog::index_memory_bytes() const {
  std::lock_guard lk(mutex_);
  std::size_t total = 0;
  for (const auto& [b, s] : segments_) total += s->index.memory_bytes();
  return total;
}

void PartitionLog::close() {
  {
    std::lock_guard lk(mutex_);
    if (closed_) return;
  }
  (void)sync();
  std::lock_guard lk(mutex_);
  closed_ = true;
  for (auto& [b, s] : segments_) s->file.reset();
  open_files_ = 0;
}

}  // namespace ferry::stream
