#pragma once

#include <cstdint>
#include <vector>

namespace ferry::bench {

// Which sequence numbers of each producer one receiver (a topic subscriber,
// or all consumers of a queue together) has seen: counts distinct messages
// and duplicates. Memory is one bit per sequence number
// up to the highest seen, bounded by what the producers sent. Not thread-safe.
class SequenceTracker {
 public:
  explicit SequenceTracker(int producers);

  enum class Seen { kFirst, kDuplicate };
  // `producer` < producers (the caller checks).
  Seen record(std::uint32_t producer, std::uint64_t seq);

  std::uint64_t distinct() const { return distinct_; }
  std::uint64_t duplicates() const { return duplicates_; }

 private:
  struct PerProducer {
    std::vector<std::uint64_t> bits;
  };
  std::vector<PerProducer> producers_;
  std::uint64_t distinct_ = 0;
  std::uint64_t duplicates_ = 0;
};

}  // namespace ferry::bench
