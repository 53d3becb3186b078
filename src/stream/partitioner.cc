#include "stream/partitioner.h"

#include "common/assert.h"

namespace ferry::stream {

std::int32_t murmur2(std::string_view key) {
  // Kafka's constants and byte order (little-endian words, Java's int
  // arithmetic: unsigned here, the same bits).
  constexpr std::uint32_t kSeed = 0x9747b28c;
  constexpr std::uint32_t m = 0x5bd1e995;
  constexpr int r = 24;
  const auto* data = reinterpret_cast<const unsigned char*>(key.data());
  const auto length = static_cast<std::uint32_t>(key.size());
  std::uint32_t h = kSeed ^ length;
  const std::uint32_t words = length / 4;
  for (std::uint32_t i = 0; i < words; ++i) {
    const std::uint32_t i4 = i * 4;
    std::uint32_t k = std::uint32_t{data[i4]} | (std::uint32_t{data[i4 + 1]} << 8) |
                      (std::uint32_t{data[i4 + 2]} << 16) | (std::uint32_t{data[i4 + 3]} << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const std::uint32_t tail = words * 4;
  switch (length % 4) {
    case 3: h ^= std::uint32_t{data[tail + 2]} << 16; [[fallthrough]];
    case 2: h ^= std::uint32_t{data[tail + 1]} << 8; [[fallthrough]];
    case 1:
      h ^= std::uint32_t{data[tail]};
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<std::int32_t>(h);
}

std::uint32_t partition_for_key(std::string_view key, std::uint32_t partitions) {
  FERRY_ASSERT(partitions > 0);
  return (static_cast<std::uint32_t>(murmur2(key)) & 0x7fffffffu) % partitions;
}

StickyPartitioner::StickyPartitioner(std::uint32_t partitions, std::uint32_t batch_entries, std::uint32_t start)
    : partitions_(partitions), batch_entries_(batch_entries), current_(partitions ? start % partitions : 0) {
  FERRY_ASSERT(partitions > 0 && batch_entries > 0);
}

std::uint32_t StickyPartitioner::next() {
  if (used_ == batch_entries_) end_batch();
  ++used_;
  return current_;
}

void StickyPartitioner::end_batch() {
  if (used_ == 0) return;  // nothing sent to this one yet: stay
  current_ = (current_ + 1) % partitions_;
  used_ = 0;
}

}  // namespace ferry::stream
