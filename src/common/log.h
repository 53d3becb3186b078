#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace ferry {

// One line per event on stderr: "2026-11-26T10:00:00.123Z info  [shard 0] text".
// Call once at start-up; afterwards use spdlog::info(...) and friends.
// Returns false when `level` is not one of trace, debug, info, warn, error.
bool init_logging(std::string_view level);

}  // namespace ferry
