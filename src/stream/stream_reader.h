#pragma once

#include <cstddef>

#include "common/result.h"
#include "stream/offset_spec.h"
#include "stream/partition_log.h"
#include "stream/read_result.h"

// A reader of one partition: its position and nothing else (no buffer, no
// copy of entries), so thousands of readers of one partition cost memory
// per reader, not per entry. The log must outlive it. One thread at a time
// per reader; any number of readers read the same log concurrently.

namespace ferry::stream {

class StreamReader {
 public:
  // Positioned by `spec` (x-stream-offset).
  static Result<StreamReader> open(PartitionLog& log, const OffsetSpec& spec);

  // The next batches from the position (see PartitionLog::read); advances.
  Result<ReadResult> read(std::size_t max_bytes, std::size_t max_entries) {
    return log_->read(position_, max_bytes, max_entries);
  }
  Status seek(const OffsetSpec& spec);

  StreamOffset next_offset() const { return position_.next; }
  const ReaderPosition& position() const { return position_; }
  // Whether read() would return entries now.
  bool at_end() const { return position_.next >= log_->end_offset(); }

 private:
  StreamReader(PartitionLog& log, ReaderPosition pos) : log_(&log), position_(pos) {}
  PartitionLog* log_;
  ReaderPosition position_;
};

}  // namespace ferry::stream
