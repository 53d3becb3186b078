#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::session {

// The last `capacity` ids remembered (the oldest forgotten first), each
// found at most once. Slots keep their strings' buffers: once the ring has
// filled, remembering an id allocates nothing.
class RecentIds {
 public:
  explicit RecentIds(std::size_t capacity) : capacity_(capacity) {}

  void remember(std::string_view id);
  // True if `id` is remembered (the newest first); it is forgotten then.
  bool take(std::string_view id);

 private:
  std::size_t capacity_;
  std::vector<std::string> slots_;  // grows to capacity_, then a ring; "" = taken
  std::size_t next_ = 0;            // the slot the next id goes to
};

}  // namespace ferry::session
