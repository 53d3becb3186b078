#pragma once

#include <cstdint>
#include <vector>

namespace ferry::bench {

// Counts 1-second intervals in which nothing arrived although messages were
// outstanding (sent but not yet received). The first interval after the
// start is warm-up and never counts. Intervals after the last arrival, once
// the producers are done, are not stalls but losses (the drain wait), so
// count() takes the end of the period that matters.
class StallDetector {
 public:
  explicit StallDetector(std::int64_t start_ns) : start_ns_(start_ns) {}

  // Called once a second (by the consumer loop) with the running totals.
  void tick(std::int64_t now_ns, std::uint64_t received, std::uint64_t outstanding);

  // Stalled intervals that ended at or before `until_ns`.
  std::uint64_t count(std::int64_t until_ns) const;

 private:
  std::int64_t start_ns_;
  std::int64_t last_tick_ns_ = 0;
  std::uint64_t last_received_ = 0;
  std::vector<std::int64_t> stalls_;  // end time of each stalled interval
};

}  // namespace ferry::bench
