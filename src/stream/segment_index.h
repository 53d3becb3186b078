#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "stream/batch_codec.h"
#include "stream/stream_format.h"

// The sparse offset index and the time index of one segment
// (docs/streams.md "Index files"), in memory, and their files.
//
// Both point at batch starts: the first batch of the segment, then a batch
// whenever at least `interval_bytes` of log lie since the last indexed one.
// Reading from offset N or time T costs a binary search here, then at most
// about `interval_bytes` of batch headers walked in the log. The files are
// a cache: written when a segment is sealed (rolled), checked against the
// segment when loaded, and rebuilt from the segment when missing or wrong.
//
// Not thread-safe: the PartitionLog guards it.

namespace ferry::stream {

class SegmentIndex {
 public:
  SegmentIndex(StreamOffset base, std::uint32_t interval_bytes);

  // Every batch of the segment, in order, at its file position.
  void add_batch(const BatchHeader& h, std::uint64_t position);

  // A batch start: its first offset and file position.
  struct Hit {
    StreamOffset offset;
    std::uint64_t position = 0;
  };
  // The last indexed batch starting at or before `offset` (the segment's
  // first batch when none: {base, header size}).
  Hit lookup_offset(StreamOffset offset) const;
  // The last indexed batch whose first timestamp is below `timestamp_ms`:
  // every entry before it is older than that (timestamps never decrease).
  Hit lookup_time(std::int64_t timestamp_ms) const;

  StreamOffset base() const { return base_; }
  StreamOffset next() const { return next_; }  // after the last entry
  bool empty() const { return next_ == base_; }
  StreamOffset last_batch_base() const { return last_batch_base_; }
  std::int64_t first_timestamp() const { return first_ts_; }
  std::int64_t max_timestamp() const { return max_ts_; }
  std::uint32_t last_epoch() const { return last_epoch_; }  // of the last batch; 0 when empty
  std::size_t offset_entries() const { return offsets_.size(); }
  std::size_t time_entries() const { return times_.size(); }
  std::size_t memory_bytes() const;

  // The two files' bytes, for a segment file of `log_bytes`.
  std::string encode_offset_file(std::uint64_t log_bytes) const;
  std::string encode_time_file(std::uint64_t log_bytes) const;
  // An index from its two files, if both are whole, agree with each other
  // and describe a segment of `base` whose file is `log_bytes` long (a
  // segment that changed since, e.g. cut by recovery, does not match).
  static Result<SegmentIndex> decode(std::span<const char> offset_file, std::span<const char> time_file,
                                     StreamOffset base, std::uint64_t log_bytes,
                                     std::uint32_t interval_bytes);

 private:
  struct OffsetEntry {
    std::uint32_t relative;
    std::uint32_t position;
  };
  struct TimeEntry {
    std::int64_t timestamp;
    std::uint32_t relative;
  };
  std::string encode_file(std::uint32_t kind, std::uint64_t log_bytes) const;

  StreamOffset base_;
  std::uint32_t interval_;
  StreamOffset next_;
  StreamOffset last_batch_base_;
  std::int64_t first_ts_ = 0;
  std::int64_t max_ts_ = 0;
  std::uint32_t last_epoch_ = 0;
  std::uint64_t last_indexed_position_ = 0;
  std::vector<OffsetEntry> offsets_;
  std::vector<TimeEntry> times_;
};

}  // namespace ferry::stream
