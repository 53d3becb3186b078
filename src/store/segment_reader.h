#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "store/journal.h"
#include "store/record_codec.h"

// Walks the records of one segment held in memory, applying the recovery
// rules of docs/journal.md: verify each record, resynchronize after a bad
// one, and tell corrupt regions that valid records follow apart from a tail
// that nothing valid follows. Pure: deciding what to do (cut, fail, skip) is
// the caller's.

namespace ferry::store {

struct CorruptRegion {
  std::uint64_t offset = 0;  // first bad byte
  std::uint64_t bytes = 0;   // up to the next valid record, or to the end
  std::string why;           // the failed test at `offset`
};

struct SegmentScan {
  std::uint64_t records = 0;          // valid records (a batch counts once)
  std::uint64_t record_bytes = 0;     // their bytes, headers included
  std::vector<CorruptRegion> middle;  // corrupt regions followed by a valid record
  std::optional<CorruptRegion> tail;  // bytes after the last valid record, if bad
  // Where valid data ends: the tail's offset, or the data size.
  std::uint64_t valid_end = 0;
  // Bytes resynchronization ran through the CRC: linear in the size of the
  // corrupt regions (a few times it), whatever bytes they hold.
  std::uint64_t resync_crc_bytes = 0;
};

// `visit` (may be empty) is called for each valid record in order; views
// point into `data`.
SegmentScan scan_segment(std::span<const char> data, SegmentId id,
                         const std::function<void(const RecordView&)>& visit);

}  // namespace ferry::store
