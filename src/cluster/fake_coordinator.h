#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>

#include "cluster/coordinator.h"

namespace ferry::cluster {

// An in-memory Coordinator with etcd's semantics (revisions, leases that
// delete their keys when they end, all-or-nothing transactions), for unit
// and simulation tests. Deterministic: time is what the test says it is
// (advance()), lease ids count up from 1, and nothing happens between
// calls. `set_reachable(false)` makes every call fail as an unreachable etcd
// would (the state is kept, leases keep ageing). Thread-safe (one mutex),
// so a ClusterService thread and a test can share it.
class FakeCoordinator final : public Coordinator {
 public:
  // Moves the fake's clock; leases whose TTL has run out end (their keys go).
  void advance(std::int64_t ms);
  std::int64_t now_ms() const;
  void set_reachable(bool reachable);
  // etcd's minimum lease TTL (a shorter request is granted this).
  void set_min_ttl(std::int64_t ttl_s);

  Result<Lease> grant_lease(std::int64_t ttl_s) override;
  Result<std::int64_t> keep_alive(LeaseId lease) override;
  Status revoke_lease(LeaseId lease) override;
  Result<RangeResult> range(const std::string& prefix) override;
  Result<TxnResult> txn(const Txn& t) override;

  // The number of leases alive (tests check that a revoked one went).
  std::size_t lease_count() const;

 private:
  struct LeaseState {
    std::int64_t ttl_s = 0;
    std::int64_t expires_ms = 0;
    std::set<std::string> keys;
  };
  void expire_locked();
  void end_lease_locked(std::int64_t id);
  void delete_locked(const std::string& key);

  mutable std::mutex mutex_;
  // GUARDED_BY(mutex_): everything below.
  std::int64_t now_ms_ = 0;
  bool reachable_ = true;
  std::int64_t min_ttl_s_ = 1;
  std::int64_t revision_ = 1;  // etcd starts at 1
  std::int64_t next_lease_ = 1;
  std::map<std::string, KeyValue> kvs_;
  std::map<std::int64_t, LeaseState> leases_;
};

}  // namespace ferry::cluster
