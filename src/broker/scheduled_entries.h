#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "broker/ready_list.h"

namespace ferry::broker {

// A queue's scheduled messages (broker/schedule.h) that are not due yet:
// kept apart from its waiting messages, earliest due first, until the
// shard's tick moves the due ones into the ready list. A queue makes one
// on its first scheduled message (an idle queue stays small).
class ScheduledEntries {
 public:
  // Keyed by e.message->deliver_at_ms, or by `due` when non-zero (a
  // redelivery held back by x-redelivery-delay); equal times keep arrival
  // order.
  void push(QueueEntry e, std::int64_t due = 0) {
    if (due == 0) due = e.message->deliver_at_ms;
    by_due_.emplace(due, std::move(e));
  }
  bool empty() const { return by_due_.empty(); }
  std::size_t size() const { return by_due_.size(); }
  // The earliest due time (0: none waits).
  std::int64_t next_due() const { return by_due_.empty() ? 0 : by_due_.begin()->first; }
  // Takes out every entry due at `now_ms`, earliest first.
  std::vector<QueueEntry> take_due(std::int64_t now_ms);
  // Takes out every entry (a purge, a deleted queue).
  std::vector<QueueEntry> take_all();
  // Compaction moves their records forward too: fn(QueueEntry&) may change `segment`.
  template <typename Fn>
  void for_each_mut(Fn fn) {
    for (auto& [due, e] : by_due_) fn(e);
  }
  template <typename Fn>
  void for_each(Fn fn) const {
    for (const auto& [due, e] : by_due_) fn(e);
  }
  QueueEntry* find(MessageId id);

 private:
  std::multimap<std::int64_t, QueueEntry> by_due_;
};

}  // namespace ferry::broker
