#pragma once

#include <functional>

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
// broker restarted): the first replica in the in-sync set, other than the
// old leader, that `alive` accepts leads in epoch + 1, and the old leader
// leaves the set. With none alive the old leader is kept if it is alive
// again (a restart: its log has everything confirmed), else the partition
// has no leader (epoch + 1, in-sync set kept, so that its last members can
// lead when they return). Never elects outside the in-sync set (Kafka's
// unclean.leader.election.enable=false).
PartitionState elect_leader(const PartitionState& current, const std::function<bool(const NodeId&)>& alive);

}  // namespace ferry::cluster
