#include "bench/stall_detector.h"

#include "bench/clock.h"

namespace ferry::bench {

void StallDetector::tick(std::int64_t now, std::uint64_t received, std::uint64_t outstanding) {
  const bool warm = last_tick_ns_ != 0 && last_tick_ns_ - start_ns_ >= kNsPerSec / 2;
  if (warm && received == last_received_ && outstanding > 0) {
    // Bounded by the run's length: one entry per second at most.
    stalls_.push_back(now);
  }
  last_tick_ns_ = now;
  last_received_ = received;
}

std::uint64_t StallDetector::count(std::int64_t until_ns) const {
  std::uint64_t n = 0;
  for (const std::int64_t t : stalls_) n += t <= until_ns ? 1 : 0;
  return n;
}

}  // namespace ferry::bench
