#pragma once

#include <cstdint>
#include <string>

#include "store/journal.h"

// What the broker's streams (`/stream/NAME`, docs/streams.md "Using
// streams over STOMP") are made with: filled from ferry.toml and flags
// (app/config.cc names each as the user types it).

namespace ferry::broker {

struct StreamOptions {
  // <data-dir>/streams; each stream's partition 0 is in
  // <directory>/<vhost escaped>/<name escaped>/0 (stream_store.h).
  // Empty: streams are refused (a broker without a data directory).
  std::string directory;
  // stream-max-segment-size (RabbitMQ's x-stream-max-segment-size-bytes).
  std::uint64_t max_segment_bytes = 500'000'000;
  // stream-max-length-bytes / stream-max-age: default retention (0 = keep).
  std::uint64_t max_length_bytes = 0;
  std::int64_t max_age_ms = 0;
  // stream-compaction-buffer-size (Kafka's log.cleaner.dedupe.buffer.size):
  // the memory of one compaction run's key map, per shard.
  std::uint64_t compaction_buffer_bytes = 128u << 20;
  // max-streams: streams per vhost over every shard (0 = no limit).
  std::uint32_t max_streams = 10000;
  // max-stream-groups: consumer groups with committed offsets per stream
  // (0 = no limit).
  std::uint32_t max_groups = 1000;
  // max-stream-partitions: the most x-stream-partitions a stream may be
  // declared with (at most StreamArguments::kMaxPartitions).
  std::uint32_t max_partitions = 256;
  // One encoded entry (body + headers): set from max-frame-size.
  std::uint32_t max_entry_bytes = 16u << 20;
  store::FsyncPolicy fsync = store::FsyncPolicy::kAlways;
};

}  // namespace ferry::broker
