#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/string_hash.h"

namespace ferry::broker {

// How many /queue/ destinations each vhost has, over every shard: the count
// max-queues limits (issue 18 item 9). A vhost's queues live on several
// shards (by hash of the name), so the count is shared; it is touched only
// when a queue is created or removed, never per message, so one mutex is
// cheap enough (lock order: a leaf, nothing is called while it is held).
class QueueCounts {
 public:
  // `limit` 0: no limit.
  explicit QueueCounts(std::uint32_t limit) : limit_(limit) {}

  // One more queue in `vhost` if the limit allows it.
  [[nodiscard]] bool try_add(std::string_view vhost) {
    std::lock_guard lk(mutex_);
    std::size_t& n = slot(vhost);
    if (limit_ != 0 && n >= limit_) return false;
    ++n;
    return true;
  }
  // One more queue whatever the limit (recovery, dead-letter queues: the
  // broker's own creations are never refused).
  void add(std::string_view vhost) {
    std::lock_guard lk(mutex_);
    ++slot(vhost);
  }
  void remove(std::string_view vhost) {
    std::lock_guard lk(mutex_);
    auto it = counts_.find(vhost);
    if (it == counts_.end() || it->second == 0) return;
    if (--it->second == 0) counts_.erase(it);
  }
  std::size_t count(std::string_view vhost) const {
    std::lock_guard lk(mutex_);
    auto it = counts_.find(vhost);
    return it == counts_.end() ? 0 : it->second;
  }
  std::uint32_t limit() const { return limit_; }

 private:
  std::size_t& slot(std::string_view vhost) {
    auto it = counts_.find(vhost);
    if (it == counts_.end()) it = counts_.emplace(std::string(vhost), 0).first;
    return it->second;
  }

  const std::uint32_t limit_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::size_t, StringHash, std::equal_to<>> counts_;  // GUARDED_BY(mutex_)
};

}  // namespace ferry::broker
