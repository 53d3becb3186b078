#include "broker/client_ids.h"

namespace ferry::broker {

std::optional<ClientIds::Holder> ClientIds::claim(const std::string& vhost, const std::string& client_id,
                                                  Holder holder) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = held_.try_emplace(key_of(vhost, client_id), holder);
  if (inserted) return std::nullopt;
  const Holder& h = it->second;
  if (h.shard == holder.shard && h.connection == holder.connection) return std::nullopt;
  return h;
}

void ClientIds::release(const std::string& vhost, const std::string& client_id, ShardId shard,
                        ConnectionId connection) {
  std::lock_guard lock(mutex_);
  auto it = held_.find(key_of(vhost, client_id));
  if (it != held_.end() && it->second.shard == shard && it->second.connection == connection) held_.erase(it);
}

std::size_t ClientIds::size() const {
  std::lock_guard lock(mutex_);
  return held_.size();
}

}  // namespace ferry::broker
