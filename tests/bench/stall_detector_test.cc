#include "bench/stall_detector.h"

#include <gtest/gtest.h>

#include "bench/clock.h"

namespace ferry::bench {
namespace {

constexpr std::int64_t kStart = 1'000 * kNsPerSec;
std::int64_t at(int second) { return kStart + second * kNsPerSec; }

TEST(StallDetector, WarmUpSecondNeverCounts) {
  StallDetector d(kStart);
  d.tick(at(1), 0, 100);  // nothing in the first second: warm-up
  EXPECT_EQ(d.count(at(100)), 0u);
}

TEST(StallDetector, CountsSilentSecondsWithOutstandingMessages) {
  StallDetector d(kStart);
  d.tick(at(1), 10, 5);
  d.tick(at(2), 20, 5);
  d.tick(at(3), 20, 5);  // stall
  d.tick(at(4), 20, 5);  // stall
  d.tick(at(5), 30, 0);
  d.tick(at(6), 30, 0);  // silent but nothing outstanding: idle, not a stall
  EXPECT_EQ(d.count(at(100)), 2u);
}

TEST(StallDetector, IntervalsAfterTheEndDoNotCount) {
  StallDetector d(kStart);
  d.tick(at(1), 10, 5);
  d.tick(at(2), 10, 5);  // stall
  d.tick(at(3), 10, 5);  // after the period that matters (lost messages, drain)
  EXPECT_EQ(d.count(at(2)), 1u);
}

}  // namespace
}  // namespace ferry::bench
