#pragma once

#include <chrono>
#include <cstdint>

namespace ferry::bench {

// Steady-clock nanoseconds. Producers stamp bodies with it and consumers in
// the same process subtract it, so latency needs no clock synchronisation.
inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr std::int64_t kNsPerSec = 1'000'000'000;
constexpr std::int64_t kNsPerMs = 1'000'000;

}  // namespace ferry::bench
