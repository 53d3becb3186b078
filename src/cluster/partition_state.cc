#include "cluster/partition_state.h"

#include <algorithm>
#include <set>
#include <string>

namespace ferry::cluster {

bool PartitionState::in_isr(const NodeId& n) const {
  return std::find(isr.begin(), isr.end(), n) != isr.end();
}

bool PartitionState::is_replica(const NodeId& n) const {
  return std::find(replicas.begin(), replicas.end(), n) != replicas.end();
}

std::string PartitionState::incarnation_of(const NodeId& n) const {
  auto it = incarnations.find(n);
  return it == incarnations.end() ? std::string() : it->second;
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

std::optional<PartitionState> fence_and_elect(const PartitionState& current,
                                             const std::map<NodeId, std::string>& live) {
  PartitionState next = current;
  // A replica alive under another incarnation than recorded restarted: its
  // log is empty. Out of the in-sync set (the leader too), and its new
  // incarnation recorded, which is what lets it follow again.
  std::set<NodeId> restarted;
  for (const NodeId& n : current.replicas) {
    auto it = live.find(n);
    if (it != live.end() && it->second != current.incarnation_of(n)) {
      restarted.insert(n);
      next.incarnations[n] = it->second;
      std::erase(next.isr, n);
    }
  }
  // A follower whose member key is gone leaves the set too (Kafka's
  // controller on a broker's failure); a dead leader is replaced below,
  // and the set keeps its last member so that it can lead if it returns
  // with its log (a lapsed lease, not a restart).
  std::erase_if(next.isr, [&](const NodeId& n) { return n != current.leader && !live.contains(n); });
  auto same = [&](const NodeId& n) { return live.contains(n) && !restarted.contains(n); };
  if (!same(current.leader)) {
    bool candidate = false;
    for (const NodeId& n : next.isr) candidate = candidate || (n != current.leader && same(n));
    // With nobody to elect, a dead leader stays named (it may return with
    // its log); a restarted one must not (the log is then leaderless).
    if (candidate || restarted.contains(current.leader)) next = elect_leader(next, same);
  }
  next.version = current.version;
  if (next == current) return std::nullopt;
  next.version = current.version + 1;
  return next;
}

}  // namespace ferry::cluster
