#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

// Failed logins per client address in a sliding minute: past the limit, a
// login from that address is refused without checking the password (and
// without spending hash time on it). Bounded: at most kMaxAddresses
// addresses are tracked; when full, the oldest-failing ones are dropped.
//
// Thread-safe (one small lock: called from the verifier's thread and from
// the management API's threads; never held while hashing).
namespace ferry::auth {

class LoginLimiter {
 public:
  static constexpr std::size_t kMaxAddresses = 100000;
  static constexpr std::int64_t kWindowMs = 60000;

  // max_failures 0: no limit.
  explicit LoginLimiter(std::uint32_t max_failures) : max_failures_(max_failures) {}

  bool blocked(const std::string& address, std::int64_t now_ms);
  void failed(const std::string& address, std::int64_t now_ms);

 private:
  void prune(std::deque<std::int64_t>& times, std::int64_t now_ms) const;
  const std::uint32_t max_failures_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::deque<std::int64_t>> failures_;  // GUARDED_BY(mutex_)
};

}  // namespace ferry::auth
