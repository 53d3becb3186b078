#include "session/mqtt_qos2_ids.h"

namespace ferry::session {

void MqttQos2Ids::park(const std::string& key, Flows flows, std::int64_t expires_ms) {
  std::lock_guard lock(mutex_);
  if (flows.empty()) {
    parked_.erase(key);
    return;
  }
  parked_[key] = Entry{std::move(flows), expires_ms};
}

MqttQos2Ids::Flows MqttQos2Ids::take(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = parked_.find(key);
  if (it == parked_.end()) return {};
  Flows flows = std::move(it->second.flows);
  parked_.erase(it);
  return flows;
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
