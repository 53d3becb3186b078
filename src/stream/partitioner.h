#pragma once

#include <cstdint>
#include <string_view>

// Which partition an entry goes to (docs/streams.md "Partitions").
//
// Keyed entries: murmur2 of the key bytes, exactly as Kafka's default
// partitioner (seed 0x9747b28c, `(murmur2(key) & 0x7fffffff) % partitions`),
// so a key lands on the same partition number as it would in Kafka with the
// same partition count, and order per key holds. Stable across versions,
// machines and restarts (it is a function of the bytes only).
//
// Keyless entries: sticky round-robin. A producer fills one partition with
// `batch_entries` entries, then moves to the next, so that keyless entries
// form batches (one write, one fsync) rather than one entry per partition.

namespace ferry::stream {

// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a
// signed 32-bit value like Kafka's.
std::int32_t murmur2(std::string_view key);

// The partition of `key` among `partitions` (> 0).
std::uint32_t partition_for_key(std::string_view key, std::uint32_t partitions);

// Sticky round-robin for keyless entries. One per producer (or per shard);
// not thread-safe.
class StickyPartitioner {
 public:
  // partitions > 0, batch_entries > 0; `start` spreads producers apart.
  StickyPartitioner(std::uint32_t partitions, std::uint32_t batch_entries, std::uint32_t start = 0);

  // The partition for the next keyless entry.
  std::uint32_t next();
  // Moves on now (e.g. when a batch was sent): the next entry starts a new one.
  void end_batch();

 private:
  std::uint32_t partitions_;
  std::uint32_t batch_entries_;
  std::uint32_t current_;
  std::uint32_t used_ = 0;
};

}  // namespace ferry::stream
