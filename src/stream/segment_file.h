#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "store/env.h"
#include "stream/batch_codec.h"
#include "stream/segment_index.h"
#include "stream/stream_format.h"

// One segment file of a partition (docs/streams.md "Files", "Segment
// header", "Recovery"): its names, its header, and the batch-by-batch scan
// that recovery and index rebuilds run over it. Reads go through
// store::File (pread), so tests and the fuzzer can use any Env.

namespace ferry::stream {

enum class SegmentFileKind { kLog, kOffsetIndex, kTimeIndex };

// "<20-digit base offset><suffix>".
std::string segment_file_name(StreamOffset base, SegmentFileKind kind);
struct ParsedFileName {
  StreamOffset base;
  SegmentFileKind kind;
};
// The segment and kind a file name belongs to; nullopt for any other name.
std::optional<ParsedFileName> parse_segment_file_name(std::string_view name);

// The 24-byte segment header.
std::string encode_segment_header(StreamOffset base);
// Whether `bytes` start with a valid header for a segment of `base`.
bool check_segment_header(std::span<const char> bytes, StreamOffset base, std::string& why);

// Reads and checks (parse_batch_header) the batch header at `position`.
// Returns false with `why` ("short ..." when the file ends first); `io`
// gets a failed read.
bool read_batch_header(store::File& file, std::uint64_t position, std::uint64_t file_end, BatchHeader& out,
                       std::string& why, store::IoStatus& io);

struct SegmentFileScan {
  std::uint64_t valid_end = 0;  // after the last valid batch
  std::string why;              // why the scan stopped before the end; empty when it did not
  store::IoStatus io;           // a failed read (then valid_end is where it stopped)
  std::uint64_t batches = 0;
};
// Walks the batches from `from` up to `end`, checking each (check_batch)
// and that its base offset is index.next(), and adds each to `index`.
// Reads one batch at a time (at most the format's batch limit).
SegmentFileScan scan_segment_file(store::File& file, std::uint64_t from, std::uint64_t end,
                                  SegmentIndex& index);

}  // namespace ferry::stream
