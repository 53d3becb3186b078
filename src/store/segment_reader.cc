#include "store/segment_reader.h"

#include <algorithm>
#include <utility>

#include "store/crc32c.h"
#include "store/record_format.h"

namespace ferry::store {
namespace {

// Resynchronization looks for the first offset after a corrupt byte where a
// valid record starts. Trying each offset and CRC-ing whatever its length
// field claims costs, on random bytes, the region size times the average
// plausible length: cubic in the garbage size (hours for a 64 MiB segment of
// it). Instead the CRC of a candidate range [s, e) comes from the CRCs of the
// two prefixes ending at s and at e (crc32c::combine), and those come from one
// sweep over the bytes per group of candidates: linear in the region.
// Candidates whose length is at most kDirectBytes are simply CRC'd.
constexpr std::uint32_t kDirectBytes = 4096;
// Candidates gathered before one sweep (bounds the memory: 24 bytes each).
constexpr std::size_t kCandidatesPerSweep = std::size_t{1} << 16;

struct Candidate {
  std::uint64_t offset;  // of the record header
  std::uint32_t length;  // its length field: the CRC covers [offset + 8, offset + 8 + length)
};

// The cheap tests of parse_record (docs/journal.md "Recovery", step 1), in
// the order that rejects random bytes fastest; the CRC is not checked.
bool plausible(std::span<const char> data, std::uint64_t p, std::uint32_t& length) {
  const char* h = data.data() + p;
  length = format::get_u32(h);
  if (length == 0 || length > format::kMaxRecordLength) return false;
  if (data.size() - p - format::kRecordHeaderBytes < length) return false;
  return is_known_type(static_cast<std::uint8_t>(h[8]));
}

// The first candidate (in offset order) that is a valid record, or npos.
std::uint64_t first_valid(std::span<const char> data, const std::vector<Candidate>& cands,
                          std::uint32_t seal, std::uint64_t& crc_bytes) {
  // Every range end and start, sorted; one pass computes the CRC of the
  // prefix [base, pos) at each.
  const std::uint64_t base = cands.front().offset + format::kRecordHeaderBytes;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> at;  // (position, prefix crc)
  at.reserve(cands.size() * 2);
  for (const Candidate& c : cands) {
    at.emplace_back(c.offset + format::kRecordHeaderBytes, 0);
    at.emplace_back(c.offset + format::kRecordHeaderBytes + c.length, 0);
  }
  std::sort(at.begin(), at.end());
  at.erase(std::unique(at.begin(), at.end()), at.end());
  std::uint64_t pos = base;
  std::uint32_t crc = 0;
  for (auto& [where, value] : at) {
    crc = crc32c::extend(crc, data.data() + pos, where - pos);
    crc_bytes += where - pos;
    pos = where;
    value = crc;
  }
  auto prefix = [&](std::uint64_t where) {
    return std::lower_bound(at.begin(), at.end(), std::make_pair(where, std::uint32_t{0}))->second;
  };
  RecordView rec{};
  std::string why;
  for (const Candidate& c : cands) {
    const std::uint64_t s = c.offset + format::kRecordHeaderBytes;
    const std::uint32_t range = prefix(s + c.length) ^ crc32c::combine(prefix(s), 0, c.length);
    if (crc32c::unmask(format::get_u32(data.data() + c.offset + 4) ^ seal) != range) continue;
    // The CRC matches: parse_record's full test decides (batch structure).
    crc_bytes += c.length;
    if (parse_record(data, c.offset, rec, why, seal)) return c.offset;
  }
  return std::uint64_t(-1);
}

// The first offset >= from where a valid record starts, or data.size().
std::uint64_t resync(std::span<const char> data, std::uint64_t from, std::uint32_t seal, std::uint64_t& crc_bytes) {
  RecordView rec{};
  std::string why;
  std::vector<Candidate> large;
  std::uint64_t p = from;
  while (p + format::kRecordHeaderBytes < data.size()) {
    large.clear();
    std::uint64_t small_hit = data.size();
    for (; p + format::kRecordHeaderBytes < data.size() && large.size() < kCandidatesPerSweep; ++p) {
      std::uint32_t length = 0;
      if (!plausible(data, p, length)) continue;
      if (length > kDirectBytes) {
        large.push_back({p, length});
        continue;
      }
      crc_bytes += length;
      if (parse_record(data, p, rec, why, seal)) {
        small_hit = p;
        break;
      }
    }
    // Every large candidate gathered lies before small_hit.
    if (!large.empty()) {
      const std::uint64_t hit = first_valid(data, large, seal, crc_bytes);
      if (hit != std::uint64_t(-1)) return hit;
    }
    if (small_hit < data.size()) return small_hit;
  }
  return data.size();
}

}  // namespace

SegmentScan scan_segment(std::span<const char> data, SegmentId id,
                         const std::function<void(const RecordView&)>& visit) {
  SegmentScan scan;
  std::uint64_t off = format::kSegmentHeaderBytes;
  std::string why;
  // An empty file holds no record: a segment whose every write failed (disk
  // full) or that was created just before a crash. Not corruption anywhere.
  if (data.empty()) return scan;
  const std::uint32_t seal = read_seal(data, id);
  if (!check_segment_header(data, id, why)) {
    // A bad header is a corrupt region starting at 0; records may still follow.
    const std::uint64_t next = resync(data, data.size() < 1 ? 0 : 1, seal, scan.resync_crc_bytes);
    if (next >= data.size()) {
      scan.tail = CorruptRegion{0, data.size(), why};
      scan.valid_end = 0;
      return scan;
    }
    scan.middle.push_back(CorruptRegion{0, next, why});
    off = next;
  }
  RecordView rec{};
  while (off < data.size()) {
    if (parse_record(data, off, rec, why, seal)) {
      ++scan.records;
      scan.record_bytes += rec.size;
      if (visit) visit(rec);
      off += rec.size;
      continue;
    }
    const std::uint64_t next = resync(data, off + 1, seal, scan.resync_crc_bytes);
    if (next >= data.size()) {
      scan.tail = CorruptRegion{off, data.size() - off, why};
      scan.valid_end = off;
      return scan;
    }
    scan.middle.push_back(CorruptRegion{off, next - off, why});
    off = next;
  }
  scan.valid_end = data.size();
  return scan;
}

}  // namespace ferry::store
