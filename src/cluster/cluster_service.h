#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "cluster/membership.h"

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

 private:
  void run();

  std::unique_ptr<Coordinator> store_;
  ClusterOptions options_;
  std::function<std::int64_t()> clock_;
  Membership membership_;  // used by the thread only (and by stop() after joining it)
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(mutex_)
  ClusterView view_;       // GUARDED_BY(mutex_)
};

}  // namespace ferry::cluster
