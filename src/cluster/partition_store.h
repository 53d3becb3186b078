#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cluster/coordinator.h"
#include "cluster/membership.h"
#include "cluster/partition_state.h"

namespace ferry::cluster {

// Each replicated log's metadata in etcd (docs/cluster.md, "What etcd
// holds"): `partitions/<log>` = {"leader","leader_epoch","replicas","isr"},
// no lease (it outlives every broker). PartitionState::version is the
// key's mod_revision, so each change is a compare-and-swap on it, and the
// controller's changes also compare the `controller` key's mod_revision as
// it read it: a deposed controller's write fails (fencing by revision, as
// Kafka's controller epoch zkVersion check). Calls block (etcd), so they
// are made on the cluster thread. `log` names one log (a stream partition
// or a queue, chosen by the layer above); '/' and '%' in it are escaped.
class PartitionStore {
 public:
  PartitionStore(Coordinator& store, const ClusterKeys& keys);

  std::string key(const std::string& log) const;

  // Every log's state, by log name.
  Result<std::map<std::string, PartitionState>> read_all();
  Result<std::optional<PartitionState>> read(const std::string& log);

  // The controller creates a log's metadata: led by replicas[0] in epoch 1
  // with every replica in sync (a new log is empty everywhere), recording
  // the replicas' `incarnations` (PartitionState::incarnations). false: it
  // exists already, or `controller_revision` is no longer the controller
  // key's (this broker is not the controller any more).
  Result<bool> create(const std::string& log, const std::vector<NodeId>& replicas, Revision controller_revision,
                      const std::map<NodeId, std::string>& incarnations = {});

  // The controller's election (elect_leader()) on the state it read;
  // nullopt when the state or the controller changed since (read again).
  Result<std::optional<PartitionState>> elect(const std::string& log, const PartitionState& current,
                                              const std::function<bool(const NodeId&)>& alive,
                                              Revision controller_revision);

  // The controller's change of the state it read (fence_and_elect()), by
  // CAS as elect(); nullopt when the state or the controller changed since.
  Result<std::optional<PartitionState>> update(const std::string& log, const PartitionState& current,
                                               PartitionState next, Revision controller_revision);

  // A leader's ISR change (apply_isr_change()) by CAS. Returns the state
  // after it: the change applied, or the current state if it was refused
  // (a newer state; the leader adopts it, Replica::on_state()).
  Result<PartitionState> alter_isr(const std::string& log, const IsrChange& change);

 private:
  Coordinator& store_;
  std::string prefix_;  // /ferry/<cluster>/partitions/
  std::string controller_key_;
};

// Kafka's replica assignment, reduced: `replication_factor` distinct
// members (all of them if fewer), consecutive in name order from a start
// that the log's name picks, so that logs' leaders spread over the
// brokers. The first is the preferred leader.
std::vector<NodeId> assign_replicas(std::vector<NodeId> members, const std::string& log,
                                    std::size_t replication_factor);

}  // namespace ferry::cluster
