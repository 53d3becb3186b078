#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "stream/entry.h"
#include "stream/stream_format.h"

// Encoding and checking of entry batches (docs/streams.md "Batch"). Pure
// functions over bytes: no I/O, no state. A batch is the unit of writing,
// checksumming, indexing and replication: a follower receives batches as
// the leader wrote them, CRC and offsets included.

namespace ferry::stream {

struct BatchHeader {
  StreamOffset base;               // offset of the first entry
  std::uint32_t count = 0;         // entries; >= 1
  std::uint32_t attributes = 0;    // compression bits; 0 today
  std::int64_t first_timestamp = 0;
  std::int64_t last_timestamp = 0; // the largest (timestamps never decrease in a batch)
  // The leader epoch the batch was written in (cluster replication: a
  // follower finds where its log diverged from a new leader's by epoch).
  // 0 on a single broker. Never decreases along a partition.
  std::uint32_t epoch = 0;
  std::uint64_t size = 0;          // whole batch: 8 + length

  StreamOffset next() const { return StreamOffset{base.value + count}; }
  // Compaction's placeholder for `count` removed entries (format::kBatchHole).
  bool hole() const { return attributes == format::kBatchHole; }
};

// The bytes entry `e` takes in a batch (its length field included).
std::uint64_t encoded_entry_bytes(const StreamEntry& e);

// Appends one batch of `entries` (at least one) with offsets from `base` to
// `out`. Entry i gets timestamp max(its own, or now_ms when 0, the previous
// one), starting from `floor_ms`: timestamps never decrease in a partition,
// so a time seek is a binary search. Returns the last timestamp given.
// Sizes must have been checked (encoded_entry_bytes) by the caller.
std::int64_t encode_batch(std::string& out, std::span<const StreamEntry> entries, StreamOffset base,
                          std::int64_t now_ms, std::int64_t floor_ms, std::uint32_t epoch = 0);

// Appends a hole batch (format::kBatchHole): offsets [base, base + count)
// were removed by compaction; their timestamps spanned [first, last].
void encode_hole(std::string& out, StreamOffset base, std::uint32_t count, std::int64_t first_ms,
                 std::int64_t last_ms, std::uint32_t epoch);
// Reads and checks the 48-byte header at the start of `bytes` (which may be
// just the header): plausible length (at most max_batch_bytes in all),
// count >= 1, known attributes, first <= last timestamp. No CRC (the entries
// may not be there). Returns false with `why` otherwise.
bool parse_batch_header(std::span<const char> bytes, std::uint32_t max_batch_bytes, BatchHeader& out,
                        std::string& why);

// The batch starting at bytes[0]: header as above, every byte present, the
// CRC matches, the entries exactly fill it, their count and timestamps agree
// with the header. The test recovery, readers and followers apply.
bool check_batch(std::span<const char> bytes, std::uint32_t max_batch_bytes, BatchHeader& out,
                 std::string& why);

// Calls visit for each entry of a batch that passed check_batch(), in offset
// order, with views into `batch`. Returns false (after visiting the entries
// it could decode) when the entries are malformed, or early with true when
// visit returns false.
bool for_each_entry(std::span<const char> batch, const BatchHeader& header,
                    const std::function<bool(const EntryView&)>& visit);

// Returns the masked CRC32C stored in a batch for its bytes [8, size).
std::uint32_t batch_crc(std::span<const char> batch);

}  // namespace ferry::stream
