#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stream/stream_format.h"

// One entry of a stream: what a producer appends and a reader gets back.
// Bytes on disk: docs/streams.md "Entry".

namespace ferry::stream {

// An entry to append (owning). timestamp_ms 0 means "now" (the log's clock).
struct StreamEntry {
  std::optional<std::string> key;  // absent: keyless (no partition-key)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::int64_t timestamp_ms = 0;
};

// An entry read back: views into the buffer of the ReadResult (or the bytes
// handed to for_each_entry) it came from; valid as long as that buffer.
struct EntryView {
  StreamOffset offset;
  std::int64_t timestamp_ms = 0;
  std::optional<std::string_view> key;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view body;
};

}  // namespace ferry::stream
