#include "store/segment_reader.h"

#include "store/record_format.h"

namespace ferry::store {
namespace {

// The first offset >= from where a valid record starts, or data.size().
std::uint64_t resync(std::span<const char> data, std::uint64_t from) {
  RecordView rec{};
  std::string why;
  for (std::uint64_t p = from; p + format::kRecordHeaderBytes < data.size(); ++p) {
    if (parse_record(data, p, rec, why)) return p;
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
  if (!check_segment_header(data, id, why)) {
    // A bad header is a corrupt region starting at 0; records may still follow.
    const std::uint64_t next = resync(data, data.size() < 1 ? 0 : 1);
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
    if (parse_record(data, off, rec, why)) {
      ++scan.records;
      scan.record_bytes += rec.size;
      if (visit) visit(rec);
      off += rec.size;
      continue;
    }
    const std::uint64_t next = resync(data, off + 1);
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
