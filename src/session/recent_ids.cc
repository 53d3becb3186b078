#include "session/recent_ids.h"

namespace ferry::session {

void RecentIds::remember(std::string_view id) {
  if (capacity_ == 0 || id.empty()) return;
  if (slots_.size() < capacity_) {
    slots_.emplace_back(id);
  } else {
    slots_[next_].assign(id);
  }
  next_ = (next_ + 1) % capacity_;
}

bool RecentIds::take(std::string_view id) {
  if (id.empty()) return false;
  const std::size_t n = slots_.size();
  for (std::size_t k = 1; k <= n; ++k) {
    std::string& slot = slots_[(next_ + capacity_ - k) % capacity_ % n];
    if (slot == id) {
      slot.clear();
      return true;
    }
  }
  return false;
}

}  // namespace ferry::session
