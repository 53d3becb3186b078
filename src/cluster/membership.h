#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cluster/cluster_options.h"
#include "cluster/coordinator.h"

namespace ferry::cluster {

// What a broker publishes about itself in its member key (JSON).
struct MemberInfo {
  std::string node;
  std::string stomp;    // HOST:PORT of the STOMP listener ("" if none)
  std::string http;     // HOST:PORT of the management API ("" if none)
  std::string cluster;  // HOST:PORT of the replication listener, cluster-listen ("" if none)
  std::string version;  // Ferry's version
  // This process's run of the broker (Kafka's broker epoch): random at
  // start (Membership makes one if empty), so that the controller tells a
  // restarted broker, whose replica logs are empty, from one that kept them.
  std::string incarnation;
};

// How sure this broker is of its place in the cluster.
enum class Coordination {
  kStarting,  // no lease yet (etcd not reached since start)
  kOk,        // the lease was renewed within its TTL and the last read succeeded
  kRenewing,  // etcd did not answer, but the lease is provably still valid
  kLost,      // the lease may have ended: this broker is not a member, nor controller
};
const char* coordination_name(Coordination c);

// A snapshot of the cluster as this broker last read it.
struct ClusterView {
  std::string cluster;
  std::string node;
  Coordination coordination = Coordination::kStarting;
  std::vector<MemberInfo> members;  // by node name; the last read (kept while kRenewing / kLost)
  std::string controller;           // "" = none known
  std::int64_t controller_epoch = 0;
  bool is_controller = false;
  Revision controller_revision;  // the controller key's mod_revision as read (the controller's fencing token)
  LeaseId lease;
  std::int64_t lease_ttl_s = 0;
  std::int64_t lease_valid_until_ms = 0;  // on the monotonic clock step() is given
  std::string last_error;                 // the last failure talking to etcd ("" = none since the last success)
  bool duplicate_name = false;            // another broker was seen registering under this node-name
};

// The keys of a cluster in etcd (docs/cluster.md, "What etcd holds").
struct ClusterKeys {
  explicit ClusterKeys(const std::string& cluster_name);
  std::string root;              // /ferry/<cluster>/
  std::string members;           // /ferry/<cluster>/members/
  std::string controller;        // /ferry/<cluster>/controller        {"node","epoch"}, under the controller's lease
  std::string controller_epoch;  // /ferry/<cluster>/controller_epoch  "N", no lease: survives every broker
  std::string member(const std::string& node) const { return members + node; }
};

// One broker's membership and its part in the controller election, as a
// step function: each step() does one round of talking to the store
// (keep the lease alive when due, register, read the members and the
// controller, stand for controller when there is none) and says when the
// next round is wanted. It never sleeps and never reads a clock, so tests
// drive it on the FakeCoordinator's time; ClusterService runs it on a
// thread of its own.
//
// The election is Kafka's /controller of the ZooKeeper era: the controller
// key exists while its holder's lease lives; a broker that finds it missing
// creates it with one transaction that also raises controller_epoch, and
// that succeeds only if neither key changed since it read them, so of
// brokers racing exactly one wins and every controller has its own,
// higher, epoch.
//
// Lease validity is judged on this side only from what is provable: a
// keep-alive sent at T that etcd answered with TTL s means the lease lives
// at least until T + s (etcd restarted the TTL after T). Past that without a
// new answer, the broker reports kLost and is no longer controller, whatever
// etcd may still hold.
class Membership {
 public:
  Membership(Coordinator& store, ClusterOptions options, MemberInfo self);

  // One round at `now_ms` (monotonic). Returns the ms until the next round.
  std::int64_t step(std::int64_t now_ms);
  const ClusterView& view() const { return view_; }
  // Ends the lease (the member key, and the controller key if held, go at
  // once): a clean shutdown. Best effort.
  void leave();
  // The replication listener's address for the member key (before the
  // first step).
  void set_cluster_address(std::string address) { self_.cluster = std::move(address); }
  const MemberInfo& self() const { return self_; }

  // The keep-alive period (a third of the TTL, as etcd's clients use) and
  // the polling period of the members and controller.
  std::int64_t keep_alive_period_ms() const;
  static constexpr std::int64_t kPollMs = 500;

 private:
  // A call failed at `now`: kRenewing while the lease is provably valid,
  // else kLost. Returns the delay before the next try.
  std::int64_t failed(std::int64_t now_ms, const Error& e);
  void lose(const std::string& why);
  bool read_cluster(std::int64_t now_ms);
  bool stand_for_controller(std::int64_t now_ms, const std::optional<KeyValue>& epoch_kv);
  void set_coordination(Coordination c);

  Coordinator& store_;
  ClusterOptions options_;
  MemberInfo self_;
  ClusterKeys keys_;
  ClusterView view_;
  bool registered_ = false;
  std::int64_t last_keep_alive_ms_ = 0;
  LeaseId previous_lease_;  // the lease before the current one (its member key may still be seen)
  bool duplicate_warned_ = false;
};

}  // namespace ferry::cluster
