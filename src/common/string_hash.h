#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace ferry {

// A hash for std::string keys that also takes a string_view, so that an
// unordered container declared with it and std::equal_to<> is searched by a
// frame's header value without building a string first (an allocation when
// the value is past the 15 characters a string keeps inline).
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  std::size_t operator()(const std::string& s) const noexcept { return (*this)(std::string_view(s)); }
  std::size_t operator()(const char* s) const noexcept { return (*this)(std::string_view(s)); }
};

}  // namespace ferry
