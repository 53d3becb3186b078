#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "broker/destination.h"
#include "common/result.h"

// A stream's own arguments (docs/streams.md "Per-stream arguments"),
// RabbitMQ's names, given as headers of the SEND or SUBSCRIBE that creates
// the stream: they override the broker's stream options for it, are kept in
// <stream directory>/arguments, and a later frame naming one with another
// value is refused (RabbitMQ's inequivalent-arg check).

namespace ferry::broker {

struct StreamArguments {
  // x-max-age as given ("7D"; stream::parse_max_age's form) and in ms.
  std::optional<std::string> max_age;
  std::int64_t max_age_ms = 0;
  std::optional<std::uint64_t> max_length_bytes;   // x-max-length-bytes (> 0)
  std::optional<std::uint64_t> max_segment_bytes;  // x-stream-max-segment-size-bytes, 4 KiB..2 GiB
  // x-stream-partitions: the number of partition logs (absent: 1), from 1
  // to kMaxPartitions here; max-stream-partitions bounds it further.
  std::optional<std::uint32_t> partitions;
  static constexpr std::uint32_t kMaxPartitions = 4096;
  // x-cleanup-policy (Kafka's cleanup.policy, which is accepted too):
  // "delete" (retention only, the default), "compact" (compaction only: the
  // last entry per key is kept; no retention), or "compact,delete" (both).
  std::optional<std::string> cleanup_policy;
  // x-delete-retention-ms (Kafka's delete.retention.ms): how long a
  // tombstone stays in a compacted stream; absent: 1 day, as Kafka.
  std::optional<std::uint64_t> delete_retention_ms;

  bool compacted() const { return cleanup_policy && cleanup_policy->starts_with("compact"); }
  bool retained() const { return !cleanup_policy || cleanup_policy->find("delete") != std::string::npos; }

  std::uint32_t partition_count() const { return partitions.value_or(1); }

  bool empty() const {
    return !max_age && !max_length_bytes && !max_segment_bytes && !partitions && !cleanup_policy &&
           !delete_retention_ms;
  }
  bool operator==(const StreamArguments& o) const {
    return max_age_ms == o.max_age_ms && max_age.has_value() == o.max_age.has_value() &&
           max_length_bytes == o.max_length_bytes && max_segment_bytes == o.max_segment_bytes &&
           partitions == o.partitions && cleanup_policy == o.cleanup_policy &&
           delete_retention_ms == o.delete_retention_ms;
  }

  // The header names, in the order the file and mismatch() use.
  static std::span<const std::string_view> names();
  // One of names(), or Kafka's spelling of one (cleanup.policy,
  // delete.retention.ms), which set() takes as that argument.
  static bool is_argument(std::string_view name);
  // names() and then the Kafka spellings: every header a frame may declare with.
  static std::span<const std::string_view> spellings();
  // Sets argument `name` (one of names()) from a header value: an Error
  // `invalid stream argument` naming it and what was expected.
  Status set(std::string_view name, std::string_view value);

  // The file: `ferry-stream-arguments 1`, then `<name> <value>` per
  // argument set, each line ending in '\n'.
  std::string encode() const;
  static Result<StreamArguments> decode(std::string_view text);

  // The first argument `requested` names whose value differs from
  // `current`'s (absent there counts as different): RabbitMQ's words.
  static std::optional<std::string> mismatch(const StreamArguments& requested, const StreamArguments& current,
                                             const Destination& stream);
};

}  // namespace ferry::broker
