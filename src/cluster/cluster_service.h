#pragma once

#include <condition_variable>
#include <deque>
#include <set>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "cluster/membership.h"
#include "cluster/partition_store.h"
#include "cluster/replication_node.h"
#include "cluster/replication_transport.h"

namespace ferry::cluster {

// Runs a broker's Membership on a thread of its own: the store's calls
// block (HTTP to etcd), and no shard's event loop may wait on them. Other
// threads (the management API on shard 0) read copies of the view; the one
// mutex guards only that copy and the stop flag, never a call to the store.
class ClusterService {
 public:
  // `clock`: monotonic ms (mono_ms; tests give the fake's).
  ClusterService(std::unique_ptr<Coordinator> store, ClusterOptions options, MemberInfo self,
                 std::function<std::int64_t()> clock);
  ~ClusterService();

  void start();
  // Stops the thread, then leaves the cluster (revokes the lease, so that
  // another broker becomes controller at once rather than after the TTL).
  void stop();

  // The view of the last step, with what the clock says now applied: past
  // the lease's deadline it is kLost and not controller, even while the
  // thread still waits on etcd.
  ClusterView view() const;
  const ClusterOptions& options() const { return options_; }

  // Replication (cluster-listen; docs/cluster.md "Replicated streams"),
  // before start(): binds the listener, publishes its address in the member
  // key, and runs this broker's replicas. `apply` gets every committed
  // record of every log this broker holds, once and in order (on the
  // replication thread). Returns the bound address.
  using Apply = std::function<void(const std::string& log, LogOffset offset, const std::string& payload)>;
  Result<std::string> enable_replication(Apply apply);
  bool replication_enabled() const { return node_ != nullptr; }
  // Any thread: appends to `log` at its leader (this broker). The first
  // append to a log not in etcd yet has the controller create it (replicas
  // assigned among the live members). `done` runs on the replication thread:
  // the offset once every member of the in-sync set has it and the set is
  // at least min-insync, or why not (led elsewhere: "the leader is N").
  void replicate(const std::string& log, std::string payload, ReplicationNode::Done done);
  // Each replicated log this broker holds, as of the replication thread's
  // last tick.
  std::vector<ReplicationNode::ReplicaStatus> replicas() const;

 private:
  void run();
  // One round of replication's coordination on the cluster thread: peers'
  // addresses, logs to create, partition states to follow, the
  // controller's elections, the leaders' ISR proposals.
  void replication_step(const ClusterView& v);

  std::unique_ptr<Coordinator> store_;
  ClusterOptions options_;
  std::function<std::int64_t()> clock_;
  Membership membership_;  // used by the thread only (and by stop() after joining it)
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(mutex_)
  ClusterView view_;       // GUARDED_BY(mutex_)
  bool work_ = false;      // GUARDED_BY(mutex_): a proposal or a creation is waiting

  // Replication (null without cluster-listen).
  std::unique_ptr<ReplicationTransport> transport_;
  std::unique_ptr<ReplicationNode> node_;
  std::unique_ptr<PartitionStore> partitions_;
  std::set<std::string> wanted_;                      // GUARDED_BY(mutex_): logs to have created
  std::set<std::string> known_;                       // GUARDED_BY(mutex_): logs etcd has
  std::deque<std::pair<std::string, IsrChange>> proposals_;  // GUARDED_BY(mutex_)
  std::map<std::string, std::int64_t> followed_;      // the cluster thread's: the version last given to node_
};

}  // namespace ferry::cluster
