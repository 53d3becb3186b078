#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"
#include "stream/stream_format.h"

// Where a reader starts (RabbitMQ's `x-stream-offset`): resolved against a
// partition by PartitionLog::resolve() into a reader position.

namespace ferry::stream {

struct OffsetSpec {
  enum class Kind {
    kFirst,      // the oldest entry still kept
    kLast,       // the start of the last batch written (RabbitMQ: the last chunk)
    kNext,       // only entries appended from now on (the default)
    kOffset,     // entry `value`; clamped into [first, next]
    kTimestamp,  // the first entry with timestamp >= `value` (ms since the epoch)
  };
  Kind kind = Kind::kNext;
  std::uint64_t value = 0;  // kOffset: the offset; kTimestamp: ms since the epoch (>= 0)

  static OffsetSpec first() { return {Kind::kFirst, 0}; }
  static OffsetSpec last() { return {Kind::kLast, 0}; }
  static OffsetSpec next() { return {Kind::kNext, 0}; }
  static OffsetSpec offset(StreamOffset o) { return {Kind::kOffset, o.value}; }
  static OffsetSpec timestamp(std::int64_t ms) { return {Kind::kTimestamp, static_cast<std::uint64_t>(ms < 0 ? 0 : ms)}; }
};

// The header's text: `first`, `last`, `next`, a number (an offset),
// `timestamp=T` (T in seconds since the epoch, as RabbitMQ's STOMP plugin
// takes it), or an interval in x-max-age form (`1h`, `7D`: entries from
// that long before `now_ms`).
Result<OffsetSpec> parse_offset_spec(std::string_view text, std::int64_t now_ms);

}  // namespace ferry::stream
