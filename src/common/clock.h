#pragma once

#include <chrono>
#include <cstdint>

namespace ferry {

// Wall-clock milliseconds since the Unix epoch (the unit of STOMP `expires`).
inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Monotonic milliseconds, for timeouts and heart-beats.
inline std::int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace ferry
