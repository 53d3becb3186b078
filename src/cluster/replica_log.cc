#include "cluster/replica_log.h"

#include <algorithm>

#include "common/assert.h"

namespace ferry::cluster {

LogOffset ReplicaLog::append(LogEntry e) {
  FERRY_ASSERT(e.epoch.value > 0 && e.epoch >= last_epoch());
  LogOffset at = end_offset();
  if (epochs_.empty() || epochs_.back().first != e.epoch) epochs_.emplace_back(e.epoch, at);
  entries_.push_back(std::move(e));
  return at;
}

const LogEntry& ReplicaLog::at(LogOffset o) const {
  FERRY_ASSERT(o.value >= 0 && o < end_offset());
  return entries_[static_cast<std::size_t>(o.value)];
}

std::vector<LogEntry> ReplicaLog::read(LogOffset from, std::size_t max) const {
  FERRY_ASSERT(from.value >= 0 && from <= end_offset());
  auto first = entries_.begin() + from.value;
  auto last = first + static_cast<std::ptrdiff_t>(std::min<std::size_t>(max, entries_.size() - from.value));
  return {first, last};
}

void ReplicaLog::truncate(LogOffset end) {
  FERRY_ASSERT(end.value >= 0);
  if (end >= end_offset()) return;
  entries_.resize(static_cast<std::size_t>(end.value));
  while (!epochs_.empty() && epochs_.back().second >= end) epochs_.pop_back();
}

ReplicaLog::EpochEnd ReplicaLog::end_of_epoch(LeaderEpoch epoch) const {
  for (std::size_t i = epochs_.size(); i-- > 0;) {
    if (epochs_[i].first <= epoch) {
      LogOffset end = i + 1 < epochs_.size() ? epochs_[i + 1].second : end_offset();
      return {epochs_[i].first, end};
    }
  }
  return {LeaderEpoch(0), LogOffset(0)};
}

}  // namespace ferry::cluster
