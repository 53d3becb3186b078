#include "cluster/fake_coordinator.h"

#include <algorithm>

namespace ferry::cluster {

namespace {
Error unreachable() { return failure("etcd unreachable", "the fake coordinator is set unreachable"); }
}  // namespace

void FakeCoordinator::advance(std::int64_t ms) {
  std::lock_guard lock(mutex_);
  now_ms_ += ms;
  expire_locked();
}

std::int64_t FakeCoordinator::now_ms() const {
  std::lock_guard lock(mutex_);
  return now_ms_;
}

void FakeCoordinator::set_reachable(bool reachable) {
  std::lock_guard lock(mutex_);
  reachable_ = reachable;
}

void FakeCoordinator::set_min_ttl(std::int64_t ttl_s) {
  std::lock_guard lock(mutex_);
  min_ttl_s_ = ttl_s;
}

std::size_t FakeCoordinator::lease_count() const {
  std::lock_guard lock(mutex_);
  return leases_.size();
}

void FakeCoordinator::expire_locked() {
  std::vector<std::int64_t> ended;
  for (const auto& [id, l] : leases_)
    if (l.expires_ms <= now_ms_) ended.push_back(id);
  for (std::int64_t id : ended) end_lease_locked(id);
}

// As etcd: the lease's keys are deleted in one revision.
void FakeCoordinator::end_lease_locked(std::int64_t id) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return;
  const std::set<std::string> keys = std::move(it->second.keys);
  leases_.erase(it);
  if (keys.empty()) return;
  ++revision_;
  for (const std::string& k : keys) kvs_.erase(k);
}

void FakeCoordinator::delete_locked(const std::string& key) {
  auto it = kvs_.find(key);
  if (it == kvs_.end()) return;
  if (it->second.lease.value != 0) {
    auto l = leases_.find(it->second.lease.value);
    if (l != leases_.end()) l->second.keys.erase(key);
  }
  kvs_.erase(it);
}

Result<Coordinator::Lease> FakeCoordinator::grant_lease(std::int64_t ttl_s) {
  std::lock_guard lock(mutex_);
  if (!reachable_) return unreachable();
  expire_locked();
  const std::int64_t ttl = std::max(ttl_s, min_ttl_s_);
  const std::int64_t id = next_lease_++;
  leases_[id] = LeaseState{ttl, now_ms_ + ttl * 1000, {}};
  return Lease{LeaseId(id), ttl};
}

Result<std::int64_t> FakeCoordinator::keep_alive(LeaseId lease) {
  std::lock_guard lock(mutex_);
  if (!reachable_) return unreachable();
  expire_locked();
  auto it = leases_.find(lease.value);
  if (it == leases_.end()) return std::int64_t{0};
  it->second.expires_ms = now_ms_ + it->second.ttl_s * 1000;
  return it->second.ttl_s;
}

Status FakeCoordinator::revoke_lease(LeaseId lease) {
  std::lock_guard lock(mutex_);
  if (!reachable_) return unreachable();
  expire_locked();
  if (leases_.find(lease.value) == leases_.end()) return failure("requested lease not found");
  end_lease_locked(lease.value);
  return {};
}

Result<RangeResult> FakeCoordinator::range(const std::string& prefix) {
  std::lock_guard lock(mutex_);
  if (!reachable_) return unreachable();
  expire_locked();
  RangeResult r;
  r.revision = Revision(revision_);
  for (auto it = kvs_.lower_bound(prefix); it != kvs_.end() && it->first.starts_with(prefix); ++it)
    r.kvs.push_back(it->second);
  return r;
}

Result<TxnResult> FakeCoordinator::txn(const Txn& t) {
  std::lock_guard lock(mutex_);
  if (!reachable_) return unreachable();
  expire_locked();
  for (const Txn::Put& p : t.puts)
    if (p.lease.value != 0 && leases_.find(p.lease.value) == leases_.end())
      return failure("etcdserver: requested lease not found");
  bool ok = true;
  for (const Txn::Compare& c : t.compares) {
    auto it = kvs_.find(c.key);
    const std::int64_t mod = it == kvs_.end() ? 0 : it->second.mod_revision.value;
    if (mod != c.mod_revision.value) ok = false;
  }
  if (!ok || (t.puts.empty() && t.deletes.empty())) return TxnResult{ok, Revision(revision_)};
  ++revision_;
  for (const std::string& k : t.deletes) delete_locked(k);
  for (const Txn::Put& p : t.puts) {
    auto it = kvs_.find(p.key);
    KeyValue kv;
    if (it != kvs_.end()) {
      kv = it->second;
      delete_locked(p.key);  // unbinds it from its old lease
    } else {
      kv.key = p.key;
      kv.create_revision = Revision(revision_);
    }
    kv.value = p.value;
    kv.mod_revision = Revision(revision_);
    kv.version += 1;
    kv.lease = p.lease;
    if (p.lease.value != 0) leases_[p.lease.value].keys.insert(p.key);
    kvs_[p.key] = std::move(kv);
  }
  return TxnResult{true, Revision(revision_)};
}

}  // namespace ferry::cluster
