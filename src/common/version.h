#pragma once

#include <string_view>

namespace ferry {

// The release, from CMakeLists.txt's project(VERSION) (one place to change).
inline constexpr std::string_view kVersion = FERRY_VERSION;

}  // namespace ferry
