#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"

// What a partition keeps (docs/streams.md "Retention"): RabbitMQ's
// `x-max-length-bytes` and `x-max-age`. Whole segments are deleted, oldest
// first, never the one being written, so a partition may hold up to one
// segment more than the limit.

namespace ferry::stream {

struct RetentionPolicy {
  std::uint64_t max_bytes = 0;   // x-max-length-bytes; 0 = no limit
  std::int64_t max_age_ms = 0;   // x-max-age; 0 = no limit
  // x-cleanup-policy:compact (Kafka's cleanup.policy): PartitionLog::compact
  // keeps the last entry per key. The broker runs it; the log only reads
  // delete_retention_ms (Kafka's delete.retention.ms, default 1 day): how
  // long a tombstone (a keyed entry with an empty body) stays after its time.
  bool compact = false;
  std::int64_t delete_retention_ms = 86'400'000;
};

// RabbitMQ's x-max-age: a positive whole number and one unit, `Y` (365
// days), `M` (30 days), `D`, `h`, `m`, `s`: "7D", "12h", "30m", "10s",
// "1Y", "1M". Case matters (`M` months, `m` minutes), as in RabbitMQ.
// Errors: empty, no unit, unknown unit, zero, not a number, over 1000 years.
Result<std::int64_t> parse_max_age(std::string_view text);

}  // namespace ferry::stream
