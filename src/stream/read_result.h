#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "stream/batch_codec.h"
#include "stream/entry.h"

// What one read of a partition returns: whole batches, byte for byte as on
// disk (CRCs included), so that a follower can append them as they are
// (PartitionLog::append_replicated) and a consumer can decode them.

namespace ferry::stream {

struct ReadResult {
  std::string bytes;                // the batches, back to back
  std::vector<BatchHeader> batches; // one per batch in `bytes`, in order
  StreamOffset from;                // the first entry meant (the first batch may start before it)
  StreamOffset next;                // after the last entry meant
  bool repositioned = false;        // the reader's position was deleted by retention: moved to the first offset

  bool empty() const { return from == next; }
  std::uint64_t entries() const { return next.value - from.value; }
  // Visits the entries [from, next) in order, views into `bytes`; stops
  // when visit returns false.
  void for_each(const std::function<bool(const EntryView&)>& visit) const;
};

}  // namespace ferry::stream
