#include "bench/sequence_tracker.h"

#include "common/assert.h"

namespace ferry::bench {

SequenceTracker::SequenceTracker(int producers) : producers_(static_cast<std::size_t>(producers)) {}

SequenceTracker::Seen SequenceTracker::record(std::uint32_t producer, std::uint64_t seq) {
  FERRY_ASSERT(producer < producers_.size());
  PerProducer& p = producers_[producer];
  const std::size_t word = static_cast<std::size_t>(seq / 64);
  if (word >= p.bits.size()) {
    // Grow geometrically: sequence numbers arrive mostly in order.
    std::size_t n = p.bits.size() < 1024 ? 1024 : p.bits.size();
    while (n <= word) n *= 2;
    p.bits.resize(n, 0);
  }
  const std::uint64_t mask = std::uint64_t{1} << (seq % 64);
  if (p.bits[word] & mask) {
    ++duplicates_;
    return Seen::kDuplicate;
  }
  p.bits[word] |= mask;
  ++distinct_;
  return Seen::kFirst;
}

}  // namespace ferry::bench
