#include "cluster/cluster_service.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace ferry::cluster {

ClusterService::ClusterService(std::unique_ptr<Coordinator> store, ClusterOptions options, MemberInfo self,
                               std::function<std::int64_t()> clock)
    : store_(std::move(store)),
      options_(options),
      clock_(std::move(clock)),
      membership_(*store_, std::move(options), std::move(self)) {
  view_ = membership_.view();
}

ClusterService::~ClusterService() { stop(); }

Result<std::string> ClusterService::enable_replication(Apply apply) {
  transport_ = std::make_unique<ReplicationTransport>([this](WireMessage m) { node_->on_message(std::move(m)); });
  auto bound = transport_->listen(options_.replication_host, options_.replication_port);
  if (!bound) {
    transport_.reset();
    return bound.error();
  }
  ReplicaOptions ro;
  ro.min_insync = options_.min_insync;
  ro.lag_max_ms = options_.replica_lag_max_ms;
  ro.incarnation = membership_.self().incarnation;
  ReplicationNode::Callbacks cb;
  cb.apply = std::move(apply);
  cb.propose = [this](const std::string& log, const IsrChange& change) {
    {
      std::lock_guard lock(mutex_);
      proposals_.emplace_back(log, change);
      work_ = true;
    }
    wake_.notify_all();
  };
  node_ = std::make_unique<ReplicationNode>(membership_.view().node, ro, *transport_, std::move(cb), clock_);
  partitions_ = std::make_unique<PartitionStore>(*store_, ClusterKeys(options_.cluster_name));
  membership_.set_cluster_address(*bound);
  return *bound;
}

void ClusterService::replicate(const std::string& log, std::string payload, ReplicationNode::Done done) {
  if (!node_) return done(failure("not replicated", "cluster-listen is not set"));
  bool ask = false;
  {
    std::lock_guard lock(mutex_);
    if (!known_.contains(log) && wanted_.insert(log).second) {
      work_ = true;
      ask = true;
    }
  }
  if (ask) wake_.notify_all();
  node_->append(log, std::move(payload), std::move(done));
}

std::vector<ReplicationNode::ReplicaStatus> ClusterService::replicas() const {
  if (!node_) return {};
  return node_->status();
}

void ClusterService::replication_step(const ClusterView& v) {
  std::map<std::string, std::string> peers;
  for (const MemberInfo& m : v.members)
    if (!m.cluster.empty() && m.node != v.node) peers[m.node] = m.cluster;
  transport_->set_peers(peers);
  if (v.coordination != Coordination::kOk) return;  // nothing provable to act on
  std::set<std::string> wanted;
  std::deque<std::pair<std::string, IsrChange>> proposals;
  {
    std::lock_guard lock(mutex_);
    wanted = wanted_;
    proposals.swap(proposals_);
  }
  // The leaders' ISR changes: etcd decides by compare-and-swap, and the
  // leader adopts whatever state results.
  for (const auto& [log, change] : proposals) {
    Result<PartitionState> s = partitions_->alter_isr(log, change);
    if (!s) {
      spdlog::warn("cluster: {}: ISR change not applied: {}", log, s.error().text());
      continue;
    }
    followed_[log] = s->version;
    node_->set_state(log, *s);
  }
  const ClusterKeys keys(options_.cluster_name);
  const std::string requests = keys.root + "requests/";
  // Logs a broker wants: asked of the controller through etcd.
  for (const std::string& log : wanted) {
    if (Result<Revision> put = store_->put(requests + log, "", LeaseId(0)); !put) {
      spdlog::warn("cluster: {}: cannot ask for it: {}", log, put.error().text());
    }
  }
  auto all = partitions_->read_all();
  if (!all) {
    spdlog::warn("cluster: reading partitions: {}", all.error().text());
    return;
  }
  // The live members that can hold a replica, with their incarnations.
  std::map<NodeId, std::string> live;
  for (const MemberInfo& m : v.members)
    if (!m.cluster.empty()) live[m.node] = m.incarnation;
  if (v.is_controller) {
    // Creation: replicas among the live members with a replication
    // listener (the factor capped by how many there are).
    auto asked = store_->range(requests);
    if (asked) {
      std::vector<NodeId> members;
      for (const MemberInfo& m : v.members)
        if (!m.cluster.empty()) members.push_back(m.node);
      for (const KeyValue& kv : asked->kvs) {
        const std::string log = kv.key.substr(requests.size());
        if (!all->contains(log) && !members.empty()) {
          auto replicas = assign_replicas(members, log, options_.replication_factor);
          auto made = partitions_->create(log, replicas, v.controller_revision, live);
          if (made && *made) {
            spdlog::info("cluster: {} created, replicas {}, leader {}", log, fmt::join(replicas, ","), replicas[0]);
          }
        }
        Txn t;
        t.deletes.push_back(kv.key);
        (void)store_->txn(t);
      }
      if (!asked->kvs.empty()) {
        all = partitions_->read_all();
        if (!all) return;
      }
    }
    // Fencing and election (fence_and_elect()): a replica restarted since
    // the state recorded it leaves the in-sync set, a dead follower too; a
    // log whose leader is gone or restarted gets the first live member of
    // its in-sync set, in epoch + 1 (never one outside it).
    for (auto& [log, s] : *all) {
      std::optional<PartitionState> want = fence_and_elect(s, live);
      if (!want) continue;
      auto next = partitions_->update(log, s, *want, v.controller_revision);
      if (next && *next) {
        for (const auto& [n, inc] : (*next)->incarnations)
          if (s.incarnation_of(n) != inc)
            spdlog::info("cluster: {}: {} restarted (incarnation {}): out of the in-sync set until it has fetched",
                         log, n, inc);
        if ((*next)->leader != s.leader || (*next)->leader_epoch != s.leader_epoch)
          spdlog::info("cluster: {}: leader {} in epoch {} (was {})", log,
                       (*next)->leader.empty() ? "none" : (*next)->leader, (*next)->leader_epoch.value,
                       s.leader.empty() ? "none" : s.leader);
        s = **next;
      }
    }
  }
  {
    std::lock_guard lock(mutex_);
    for (const auto& [log, s] : *all) {
      known_.insert(log);
      wanted_.erase(log);
    }
  }
  for (const auto& [log, s] : *all) {
    auto it = followed_.find(log);
    if (it != followed_.end() && it->second >= s.version) continue;
    followed_[log] = s.version;
    node_->set_state(log, s);
  }
}

void ClusterService::start() {
  if (thread_.joinable()) return;
  if (transport_) {
    transport_->start();
    node_->start();
  }
  thread_ = std::thread([this] { run(); });
}

void ClusterService::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  if (transport_) transport_->stop();
  membership_.leave();
  std::lock_guard lock(mutex_);
  view_ = membership_.view();
}

ClusterView ClusterService::view() const {
  ClusterView v;
  {
    std::lock_guard lock(mutex_);
    v = view_;
  }
  // The thread may be inside a call to etcd past the lease's deadline (a
  // silent endpoint): the copy says what is provable now, not at the last
  // step.
  if (v.lease.value != 0 && clock_() >= v.lease_valid_until_ms &&
      (v.coordination == Coordination::kOk || v.coordination == Coordination::kRenewing)) {
    v.coordination = Coordination::kLost;
    v.is_controller = false;
    v.controller.clear();
  }
  return v;
}

void ClusterService::run() {
  for (;;) {
    std::int64_t delay = membership_.step(clock_());
    if (node_) {
      replication_step(membership_.view());
      // Elections and new logs should not wait a whole poll.
      delay = std::min<std::int64_t>(delay, 200);
    }
    std::unique_lock lock(mutex_);
    view_ = membership_.view();
    if (wake_.wait_for(lock, std::chrono::milliseconds(delay), [this] { return stopping_ || work_; }) && stopping_)
      return;
    work_ = false;
  }
}

}  // namespace ferry::cluster
