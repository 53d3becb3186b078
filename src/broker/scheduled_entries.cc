#include "broker/scheduled_entries.h"

namespace ferry::broker {

std::vector<QueueEntry> ScheduledEntries::take_due(std::int64_t now_ms) {
  std::vector<QueueEntry> out;
  auto it = by_due_.begin();
  while (it != by_due_.end() && it->first <= now_ms) {
    out.push_back(std::move(it->second));
    it = by_due_.erase(it);
  }
  return out;
}

std::vector<QueueEntry> ScheduledEntries::take_all() {
  std::vector<QueueEntry> out;
  out.reserve(by_due_.size());
  for (auto& [due, e] : by_due_) out.push_back(std::move(e));
  by_due_.clear();
  return out;
}

QueueEntry* ScheduledEntries::find(MessageId id) {
  for (auto& [due, e] : by_due_)
    if (e.message->id == id) return &e;
  return nullptr;
}

}  // namespace ferry::broker
