#pragma once

#include <stdexcept>

namespace ferry::app {

// What the person typed (or wrote in ferry.toml) is wrong: a bad option, a
// bad value, a malformed header. The command line prints it once and exits
// 2, as usage errors do; other failures exit 1.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace ferry::app
