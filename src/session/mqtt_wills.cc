#include "session/mqtt_wills.h"

#include <spdlog/spdlog.h>

namespace ferry::session {

void MqttWills::defer(const std::string& key, Will will, std::int64_t due_ms) {
  std::lock_guard lock(mutex_);
  waiting_[key] = Entry{std::move(will), due_ms};
}

void MqttWills::claimed(const std::string& key, bool publish_now, ShardId shard) {
  Will w;
  {
    std::lock_guard lock(mutex_);
    auto it = waiting_.find(key);
    if (it == waiting_.end()) return;
    w = std::move(it->second.will);
    waiting_.erase(it);
  }
  if (publish_now) publish(std::move(w), shard);
}

void MqttWills::tick(ShardId shard, std::int64_t now_ms) {
  if (shard.value != 0) return;
  std::vector<Will> due;
  {
    std::lock_guard lock(mutex_);
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (it->second.due_ms <= now_ms) {
        due.push_back(std::move(it->second.will));
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Will& w : due) publish(std::move(w), shard);
}

std::size_t MqttWills::size() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

void MqttWills::publish(Will w, ShardId shard) {
  if (w.retain && retained_ != nullptr) {
    if (Status kept = retained_->set(w.destination.vhost, w.topic, w.message, {}); !kept)
      spdlog::info("MQTT will not retained: {}", kept.error().text());
  }
  // Nobody waits for the outcome: connection 0 is no connection.
  (void)broker_.publish(w.destination, std::move(w.message), broker::OpTicket{shard, ConnectionId(0), 0});
}

}  // namespace ferry::session
