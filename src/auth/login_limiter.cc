#include "auth/login_limiter.h"

namespace ferry::auth {

void LoginLimiter::prune(std::deque<std::int64_t>& times, std::int64_t now_ms) const {
  while (!times.empty() && now_ms - times.front() >= kWindowMs) times.pop_front();
}

bool LoginLimiter::blocked(const std::string& address, std::int64_t now_ms) {
  if (max_failures_ == 0) return false;
  std::lock_guard lock(mutex_);
  auto it = failures_.find(address);
  if (it == failures_.end()) return false;
  prune(it->second, now_ms);
  if (it->second.empty()) {
    failures_.erase(it);
    return false;
  }
  return it->second.size() >= max_failures_;
}

void LoginLimiter::failed(const std::string& address, std::int64_t now_ms) {
  if (max_failures_ == 0) return;
  std::lock_guard lock(mutex_);
  if (failures_.size() >= kMaxAddresses && !failures_.contains(address)) {
    // Full: forget addresses whose failures have aged out; if none have,
    // forget an arbitrary one (the bound matters more than the memory).
    for (auto it = failures_.begin(); it != failures_.end();) {
      prune(it->second, now_ms);
      it = it->second.empty() ? failures_.erase(it) : std::next(it);
    }
    if (failures_.size() >= kMaxAddresses) failures_.erase(failures_.begin());
  }
  auto& times = failures_[address];
  prune(times, now_ms);
  times.push_back(now_ms);
  // Only the last max_failures_ matter.
  while (times.size() > max_failures_) times.pop_front();
}

}  // namespace ferry::auth
