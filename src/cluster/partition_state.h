#pragma once

#include <functional>
#include <map>
#include <optional>

#include "cluster/replication_types.h"
#include "common/result.h"

namespace ferry::cluster {

// The two ways a partition's metadata changes, as pure functions of the
// current state, so that etcd's transaction (compare the key's revision,
// then put) and the simulation's fake apply the same rules.

// A leader's ISR change: refused (with the reason) unless the state is
// still the one the leader saw (`base_version`) and the leader still leads
// in its epoch; the new set must contain the leader and only replicas.
Result<PartitionState> apply_isr_change(const PartitionState& current, const IsrChange& change);

// The controller's clean election after the leader's lease ended (or its
// broker restarted, fence_and_elect()): the first replica in the in-sync set, other than the
// old leader, that `alive` accepts leads in epoch + 1, and the old leader
// leaves the set. With none alive the old leader is kept if it is alive
// again (a restart: its log has everything confirmed), else the partition
// has no leader (epoch + 1, in-sync set kept, so that its last members can
// lead when they return with their logs). `alive` must refuse a broker
// restarted since the state recorded it (fence_and_elect()). Never elects outside the in-sync set (Kafka's
// unclean.leader.election.enable=false).
PartitionState elect_leader(const PartitionState& current, const std::function<bool(const NodeId&)>& alive);

// The controller's round over one log, given the live members with their
// incarnations (MemberInfo::incarnation): a replica whose incarnation is
// not the recorded one restarted with an empty log, so it leaves the
// in-sync set and its new incarnation is recorded (fenced); a follower no
// longer alive leaves the set; a leader gone or restarted is replaced by
// the first live, not restarted member of the remaining set in epoch + 1
// (elect_leader()), or the log stays leaderless. nullopt: nothing to change.
std::optional<PartitionState> fence_and_elect(const PartitionState& current,
                                             const std::map<NodeId, std::string>& live);

}  // namespace ferry::cluster
