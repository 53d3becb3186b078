#include "session/mqtt_qos2_ids.h"

namespace ferry::session {

void MqttQos2Ids::park(const std::string& key, Ids ids, std::int64_t expires_ms) {
  std::lock_guard lock(mutex_);
  if (ids.empty()) {
    parked_.erase(key);
    return;
  }
  parked_[key] = Entry{std::move(ids), expires_ms};
}

MqttQos2Ids::Ids MqttQos2Ids::take(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = parked_.find(key);
  if (it == parked_.end()) return {};
  Ids ids = std::move(it->second.ids);
  parked_.erase(it);
  return ids;
}

void MqttQos2Ids::tick(ShardId shard, std::int64_t now_ms) {
  if (shard.value != 0) return;
  std::lock_guard lock(mutex_);
  for (auto it = parked_.begin(); it != parked_.end();) {
    if (it->second.expires_ms <= now_ms) it = parked_.erase(it);
    else ++it;
  }
}

}  // namespace ferry::session
