#include "cluster/partition_state.h"

#include <algorithm>
#include <string>

namespace ferry::cluster {

bool PartitionState::in_isr(const NodeId& n) const {
  return std::find(isr.begin(), isr.end(), n) != isr.end();
}

bool PartitionState::is_replica(const NodeId& n) const {
  return std::find(replicas.begin(), replicas.end(), n) != replicas.end();
}

Result<PartitionState> apply_isr_change(const PartitionState& current, const IsrChange& change) {
  if (change.base_version != current.version) {
    return failure("partition changed", "the in-sync set was changed since the leader read it");
  }
  if (change.leader != current.leader || change.leader_epoch != current.leader_epoch) {
    return failure("not the leader", "leader epoch " + std::to_string(change.leader_epoch.value) +
                                          " was superseded by " + std::to_string(current.leader_epoch.value));
  }
  if (std::find(change.isr.begin(), change.isr.end(), change.leader) == change.isr.end()) {
    return failure("bad in-sync set", "the leader must be in it");
  }
  for (const NodeId& n : change.isr) {
    if (!current.is_replica(n)) return failure("bad in-sync set", n + " is not a replica");
  }
  PartitionState next = current;
  next.isr = change.isr;
  next.version = current.version + 1;
  return next;
}

PartitionState elect_leader(const PartitionState& current, const std::function<bool(const NodeId&)>& alive) {
  PartitionState next = current;
  next.version = current.version + 1;
  next.leader_epoch = LeaderEpoch(current.leader_epoch.value + 1);
  for (const NodeId& n : current.isr) {
    if (n != current.leader && alive(n)) {
      next.leader = n;
      std::erase(next.isr, current.leader);
      return next;
    }
  }
  if (!current.leader.empty() && current.in_isr(current.leader) && alive(current.leader)) {
    return next;  // the same broker again, in a new epoch
  }
  next.leader.clear();
  return next;
}

}  // namespace ferry::cluster
