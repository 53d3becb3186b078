#include "stream/segment_index.h"

#include <algorithm>

#include "common/assert.h"
#include "store/crc32c.h"
#include "store/record_format.h"

namespace ferry::stream {

using store::format::get_u32;
using store::format::get_u64;
using store::format::put_u32;
using store::format::put_u64;
using namespace format;

SegmentIndex::SegmentIndex(StreamOffset base, std::uint32_t interval_bytes)
    : base_(base), interval_(interval_bytes), next_(base), last_batch_base_(base) {}

void SegmentIndex::add_batch(const BatchHeader& h, std::uint64_t position) {
  FERRY_ASSERT(h.base == next_ && position < (1ull << 32));
  const auto relative = static_cast<std::uint32_t>(h.base.value - base_.value);
  if (offsets_.empty() || position - last_indexed_position_ >= interval_) {
    offsets_.push_back({relative, static_cast<std::uint32_t>(position)});
    // Strictly increasing times: for equal ones the earliest batch is kept,
    // which is the one a seek to that time must start from.
    if (times_.empty() || h.first_timestamp > times_.back().timestamp)
      times_.push_back({h.first_timestamp, relative});
    last_indexed_position_ = position;
  }
  if (empty()) first_ts_ = h.first_timestamp;
  max_ts_ = std::max(max_ts_, h.last_timestamp);
  last_batch_base_ = h.base;
  last_epoch_ = h.epoch;
  next_ = h.next();
}

SegmentIndex::Hit SegmentIndex::lookup_offset(StreamOffset offset) const {
  if (offsets_.empty() || offset <= base_) return {base_, kSegmentHeaderBytes};
  const std::uint64_t rel = offset.value - base_.value;
  auto it = std::upper_bound(offsets_.begin(), offsets_.end(), rel,
                             [](std::uint64_t r, const OffsetEntry& e) { return r < e.relative; });
  if (it == offsets_.begin()) return {base_, kSegmentHeaderBytes};
  --it;
  return {StreamOffset{base_.value + it->relative}, it->position};
}

SegmentIndex::Hit SegmentIndex::lookup_time(std::int64_t timestamp_ms) const {
  auto it = std::lower_bound(times_.begin(), times_.end(), timestamp_ms,
                             [](const TimeEntry& e, std::int64_t t) { return e.timestamp < t; });
  if (it == times_.begin()) return {base_, kSegmentHeaderBytes};
  --it;
  return lookup_offset(StreamOffset{base_.value + it->relative});
}

std::size_t SegmentIndex::memory_bytes() const {
  return sizeof(*this) + offsets_.capacity() * sizeof(OffsetEntry) + times_.capacity() * sizeof(TimeEntry);
}

std::string SegmentIndex::encode_offset_file(std::uint64_t log_bytes) const {
  return encode_file(kOffsetIndexKind, log_bytes);
}
std::string SegmentIndex::encode_time_file(std::uint64_t log_bytes) const {
  return encode_file(kTimeIndexKind, log_bytes);
}

std::string SegmentIndex::encode_file(std::uint32_t kind, std::uint64_t log_bytes) const {
  const bool offsets = kind == kOffsetIndexKind;
  const std::size_t n = offsets ? offsets_.size() : times_.size();
  const std::size_t entry = offsets ? kOffsetIndexEntryBytes : kTimeIndexEntryBytes;
  std::string out(kIndexHeaderBytes + n * entry, '\0');
  char* h = out.data();
  std::copy(kIndexMagic, kIndexMagic + 8, h);
  put_u32(h + 8, kIndexVersion);
  put_u32(h + 12, kind);
  put_u64(h + 16, base_.value);
  put_u64(h + 24, log_bytes);
  put_u64(h + 32, next_.value);
  put_u64(h + 40, last_batch_base_.value);
  put_u64(h + 48, static_cast<std::uint64_t>(first_ts_));
  put_u64(h + 56, static_cast<std::uint64_t>(max_ts_));
  put_u32(h + 64, static_cast<std::uint32_t>(n));
  put_u32(h + 68, last_epoch_);
  char* p = h + kIndexHeaderBytes;
  for (std::size_t i = 0; i < n; ++i, p += entry) {
    if (offsets) {
      put_u32(p, offsets_[i].relative);
      put_u32(p + 4, offsets_[i].position);
    } else {
      put_u64(p, static_cast<std::uint64_t>(times_[i].timestamp));
      put_u32(p + 8, times_[i].relative);
    }
  }
  // The CRC covers the header before it and every entry after it.
  std::uint32_t crc = store::crc32c::value(h, kIndexCrcOffset);
  crc = store::crc32c::extend(crc, h + kIndexHeaderBytes, out.size() - kIndexHeaderBytes);
  put_u32(h + kIndexCrcOffset, store::crc32c::mask(crc));
  return out;
}

namespace {

struct FileHeader {
  std::uint64_t next, last_batch_base;
  std::int64_t first_ts, max_ts;
  std::uint32_t count;
  std::uint32_t last_epoch;
};

Result<FileHeader> check_file(std::span<const char> f, std::uint32_t kind, std::size_t entry_bytes,
                              StreamOffset base, std::uint64_t log_bytes) {
  const std::string what = kind == kOffsetIndexKind ? "offset index" : "time index";
  if (f.size() < kIndexHeaderBytes) return failure("bad " + what, "short file");
  const char* h = f.data();
  if (!std::equal(kIndexMagic, kIndexMagic + 8, h)) return failure("bad " + what, "bad magic");
  if (get_u32(h + 8) != kIndexVersion || get_u32(h + 12) != kind)
    return failure("bad " + what, "unknown version or kind");
  std::uint32_t crc = store::crc32c::value(h, kIndexCrcOffset);
  crc = store::crc32c::extend(crc, h + kIndexHeaderBytes, f.size() - kIndexHeaderBytes);
  if (store::crc32c::mask(crc) != get_u32(h + kIndexCrcOffset)) return failure("bad " + what, "CRC mismatch");
  if (get_u64(h + 16) != base.value) return failure("bad " + what, "base offset differs from its segment");
  if (get_u64(h + 24) != log_bytes) return failure("stale " + what, "segment size changed");
  FileHeader fh{get_u64(h + 32), get_u64(h + 40), static_cast<std::int64_t>(get_u64(h + 48)),
                static_cast<std::int64_t>(get_u64(h + 56)), get_u32(h + 64), get_u32(h + 68)};
  if (f.size() - kIndexHeaderBytes != std::uint64_t{fh.count} * entry_bytes)
    return failure("bad " + what, "entry count does not match its size");
  return fh;
}

}  // namespace

Result<SegmentIndex> SegmentIndex::decode(std::span<const char> offset_file, std::span<const char> time_file,
                                          StreamOffset base, std::uint64_t log_bytes,
                                          std::uint32_t interval_bytes) {
  auto of = check_file(offset_file, kOffsetIndexKind, kOffsetIndexEntryBytes, base, log_bytes);
  if (!of) return of.error();
  auto tf = check_file(time_file, kTimeIndexKind, kTimeIndexEntryBytes, base, log_bytes);
  if (!tf) return tf.error();
  const FileHeader& o = *of;
  const FileHeader& t = *tf;
  if (o.next != t.next || o.last_batch_base != t.last_batch_base || o.first_ts != t.first_ts ||
      o.max_ts != t.max_ts || o.last_epoch != t.last_epoch)
    return failure("bad index", "offset and time index disagree");
  const bool empty = o.next == base.value;
  if (o.next < base.value || o.next - base.value >= (1ull << 32) || o.first_ts > o.max_ts ||
      (empty ? (o.count != 0 || t.count != 0 || o.last_batch_base != base.value || o.last_epoch != 0)
             : (o.count == 0 || t.count == 0 || o.last_batch_base < base.value ||
                o.last_batch_base >= o.next)) ||
      log_bytes < kSegmentHeaderBytes || log_bytes >= (1ull << 32))
    return failure("bad index", "inconsistent header");
  SegmentIndex index(base, interval_bytes);
  index.next_ = StreamOffset{o.next};
  index.last_batch_base_ = StreamOffset{o.last_batch_base};
  index.first_ts_ = o.first_ts;
  index.max_ts_ = o.max_ts;
  index.last_epoch_ = o.last_epoch;
  const std::uint64_t span = o.next - base.value;
  const char* p = offset_file.data() + kIndexHeaderBytes;
  for (std::uint32_t i = 0; i < o.count; ++i, p += kOffsetIndexEntryBytes) {
    const OffsetEntry e{get_u32(p), get_u32(p + 4)};
    const bool first_ok = i > 0 || (e.relative == 0 && e.position == kSegmentHeaderBytes);
    const bool increasing = i == 0 || (e.relative > index.offsets_.back().relative &&
                                       e.position > index.offsets_.back().position);
    if (!first_ok || !increasing || e.relative >= span || e.relative > o.last_batch_base - base.value ||
        e.position + kBatchHeaderBytes > log_bytes)
      return failure("bad offset index", "entry " + std::to_string(i) + " out of order or range");
    index.offsets_.push_back(e);
  }
  p = time_file.data() + kIndexHeaderBytes;
  for (std::uint32_t i = 0; i < t.count; ++i, p += kTimeIndexEntryBytes) {
    const TimeEntry e{static_cast<std::int64_t>(get_u64(p)), get_u32(p + 8)};
    const bool increasing = i == 0 || (e.timestamp > index.times_.back().timestamp &&
                                       e.relative > index.times_.back().relative);
    if ((i == 0 && (e.relative != 0 || e.timestamp != o.first_ts)) || !increasing || e.relative >= span ||
        e.timestamp > o.max_ts)
      return failure("bad time index", "entry " + std::to_string(i) + " out of order or range");
    index.times_.push_back(e);
  }
  if (!index.offsets_.empty()) index.last_indexed_position_ = index.offsets_.back().position;
  return index;
}

}  // namespace ferry::stream
