#include "cluster/replica.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <variant>

#include "cluster/partition_state.h"
#include "cluster/replica_log.h"

namespace ferry::cluster {
namespace {

LogEntry entry(std::int64_t epoch, std::string payload) { return LogEntry{LeaderEpoch(epoch), std::move(payload)}; }

TEST(ReplicaLog, EndOfEpochIsTheFirstOffsetOfTheNextEpoch) {
  ReplicaLog log;
  EXPECT_EQ(log.end_of_epoch(LeaderEpoch(1)).end_offset, LogOffset(0));
  log.append(entry(1, "a"));
  log.append(entry(1, "b"));
  log.append(entry(3, "c"));
  EXPECT_EQ(log.last_epoch(), LeaderEpoch(3));
  auto e1 = log.end_of_epoch(LeaderEpoch(1));
  EXPECT_EQ(e1.epoch, LeaderEpoch(1));
  EXPECT_EQ(e1.end_offset, LogOffset(2));
  auto e2 = log.end_of_epoch(LeaderEpoch(2));  // no epoch 2: the largest below it
  EXPECT_EQ(e2.epoch, LeaderEpoch(1));
  EXPECT_EQ(e2.end_offset, LogOffset(2));
  EXPECT_EQ(log.end_of_epoch(LeaderEpoch(9)).end_offset, LogOffset(3));
  log.truncate(LogOffset(2));
  EXPECT_EQ(log.last_epoch(), LeaderEpoch(1));
  EXPECT_EQ(log.end_of_epoch(LeaderEpoch(3)).end_offset, LogOffset(2));
}

// Three replicas wired through a queue the test pumps; etcd is a
// PartitionState the test holds, changed by the same rules as in etcd.
class Cluster {
 public:
  struct Host : ReplicaHost {
    Cluster* c;
    NodeId self;
    void send(const NodeId& to, const FetchRequest& r) override { c->queue.push_back({self, to, r}); }
    void send(const NodeId& to, const FetchResponse& r) override { c->queue.push_back({self, to, r}); }
    void propose(const IsrChange& change) override { c->proposals.push_back(change); }
    void confirmed(LeaderEpoch epoch, LogOffset end) override { c->confirmed[self] = {epoch, end}; }
  };
  struct Msg {
    NodeId from, to;
    std::variant<FetchRequest, FetchResponse> body;
  };

  explicit Cluster(ReplicaOptions options, std::vector<NodeId> isr = {"a", "b", "c"}) {
    state.replicas = {"a", "b", "c"};
    state.leader = "a";
    state.leader_epoch = LeaderEpoch(1);
    state.isr = std::move(isr);
    state.version = 1;
    for (const NodeId& n : state.replicas) {
      auto h = std::make_unique<Host>();
      h->c = this;
      h->self = n;
      replicas[n] = std::make_unique<Replica>(n, logs[n], options, *h);
      hosts[n] = std::move(h);
    }
    publish();
  }
  void publish() {
    for (auto& [n, r] : replicas) r->on_state(now, state);
  }
  // Delivers messages (optionally not to/from `cut`) until none are left.
  void pump(const NodeId& cut = "") {
    for (int i = 0; i < 1000 && !queue.empty(); ++i) {
      Msg m = queue.front();
      queue.pop_front();
      if (m.from == cut || m.to == cut) continue;
      if (auto* r = std::get_if<FetchRequest>(&m.body)) replicas[m.to]->on_fetch(now, *r);
      if (auto* r = std::get_if<FetchResponse>(&m.body)) replicas[m.to]->on_fetch_response(now, *r);
    }
  }
  void tick_all(const NodeId& cut = "") {
    for (auto& [n, r] : replicas) {
      if (n != cut) r->tick(now);
    }
    pump(cut);
  }
  // Applies the proposals as etcd would and tells everyone.
  void settle_proposals() {
    for (const IsrChange& c : proposals) {
      Result<PartitionState> next = apply_isr_change(state, c);
      if (next.ok()) state = *next;
    }
    proposals.clear();
    publish();
  }

  std::int64_t now = 0;
  PartitionState state;
  std::map<NodeId, ReplicaLog> logs;
  std::map<NodeId, std::unique_ptr<Host>> hosts;
  std::map<NodeId, std::unique_ptr<Replica>> replicas;
  std::deque<Msg> queue;
  std::vector<IsrChange> proposals;
  std::map<NodeId, std::pair<LeaderEpoch, LogOffset>> confirmed;
};

ReplicaOptions options() {
  ReplicaOptions o;
  o.min_insync = 2;
  o.lag_max_ms = 1'000;
  o.fetch_interval_ms = 10;
  return o;
}

TEST(Replica, ConfirmsOnlyOnceEveryInSyncReplicaHasTheWrite) {
  Cluster c(options());
  Replica& leader = *c.replicas["a"];
  ASSERT_EQ(leader.role(), Replica::Role::kLeader);
  ASSERT_EQ(c.replicas["b"]->role(), Replica::Role::kFollower);
  Result<LogOffset> at = leader.append(c.now, "m0");
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(*at, LogOffset(0));
  // Only b fetches: c, in the in-sync set, does not have it, so nothing is confirmed.
  c.tick_all("c");
  c.tick_all("c");
  EXPECT_EQ(c.logs["b"].end_offset(), LogOffset(1));
  EXPECT_EQ(leader.high_watermark(), LogOffset(0));
  EXPECT_EQ(c.confirmed.count("a"), 0u);
  c.now += 20;
  c.tick_all();
  c.now += 20;
  c.tick_all();
  EXPECT_EQ(leader.high_watermark(), LogOffset(1));
  EXPECT_EQ(c.confirmed["a"].second, LogOffset(1));
  EXPECT_EQ(c.logs["c"].at(LogOffset(0)).payload, "m0");
}

TEST(Replica, RefusesWritesBelowMinInsyncAndWhenNotLeader) {
  Cluster c(options(), {"a"});
  Result<LogOffset> at = c.replicas["a"]->append(c.now, "m0");
  ASSERT_FALSE(at.ok());
  EXPECT_EQ(at.error().message, "not enough in-sync replicas");
  EXPECT_EQ(at.error().detail, "1 in sync, min-insync 2");
  EXPECT_EQ(c.logs["a"].end_offset(), LogOffset(0));  // nothing written
  Result<LogOffset> other = c.replicas["b"]->append(c.now, "m0");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().message, "not the leader");
}

TEST(Replica, NothingIsConfirmedWhileTheInSyncSetIsBelowMinInsync) {
  Cluster c(options(), {"a", "b"});
  ASSERT_TRUE(c.replicas["a"]->append(c.now, "m0").ok());
  // Nobody fetches; once b is out, a alone has the write: the high
  // watermark passes it, but it is not confirmed (Kafka's
  // NOT_ENOUGH_REPLICAS_AFTER_APPEND), and new writes are refused.
  for (int i = 0; i < 15 && c.proposals.empty(); ++i) {
    c.now += 100;
    c.replicas["a"]->tick(c.now);
  }
  c.settle_proposals();
  ASSERT_EQ(c.state.isr, (std::vector<NodeId>{"a"}));
  EXPECT_EQ(c.replicas["a"]->high_watermark(), LogOffset(1));
  EXPECT_EQ(c.replicas["a"]->confirmed_end(), LogOffset(0));
  EXPECT_EQ(c.confirmed.count("a"), 0u);
  EXPECT_FALSE(c.replicas["a"]->append(c.now, "m1").ok());
  // b comes back: in sync again, and the write is confirmed.
  for (int i = 0; i < 5; ++i) {
    c.now += 20;
    c.tick_all();
  }
  c.settle_proposals();
  EXPECT_EQ(c.state.isr, (std::vector<NodeId>{"a", "b", "c"}));
  EXPECT_EQ(c.replicas["a"]->confirmed_end(), LogOffset(1));
}

TEST(Replica, ALaggingFollowerLeavesTheInSyncSetAndComesBackOnceCaughtUp) {
  Cluster c(options());
  for (int i = 0; i < 3; ++i) {
    c.now += 100;
    ASSERT_TRUE(c.replicas["a"]->append(c.now, "m" + std::to_string(i)).ok());
    c.tick_all("c");
  }
  EXPECT_TRUE(c.proposals.empty());
  for (int i = 0; i < 15 && c.proposals.empty(); ++i) {  // c has not caught up for longer than lag_max_ms
    c.now += 100;
    c.tick_all("c");
  }
  ASSERT_EQ(c.proposals.size(), 1u);
  EXPECT_EQ(c.proposals[0].isr, (std::vector<NodeId>{"a", "b"}));
  // Until etcd has the smaller set, c still counts (maximal ISR): no confirm yet.
  EXPECT_EQ(c.replicas["a"]->confirmed_end(), LogOffset(0));
  c.settle_proposals();
  EXPECT_EQ(c.state.isr, (std::vector<NodeId>{"a", "b"}));
  EXPECT_EQ(c.replicas["a"]->confirmed_end(), LogOffset(3));
  // c fetches again and catches up: proposed back in.
  for (int i = 0; i < 5; ++i) {
    c.now += 20;
    c.tick_all();
  }
  c.settle_proposals();
  EXPECT_EQ(c.state.isr, (std::vector<NodeId>{"a", "b", "c"}));
}

// A follower that had everything and then stopped (its broker died) leaves
// the set and is not proposed back in on its stale end: that would flap the
// set, and a write made while it is back in could never be confirmed.
TEST(Replica, AFollowerTheControllerTookOutIsNotProposedBackOnItsLastEnd) {
  // c dies; its member key goes (the lease TTL) before the leader's lag
  // time, and the controller takes it out of the set. Its last fetch was
  // recent and complete: the leader must not propose it back on that.
  Cluster c(options());
  ASSERT_TRUE(c.replicas["a"]->append(c.now, "m").ok());
  for (int i = 0; i < 5; ++i) {
    c.now += 20;
    c.tick_all();
  }
  ASSERT_EQ(c.replicas["a"]->confirmed_end(), LogOffset(1));
  auto next = fence_and_elect(c.state, {{"a", ""}, {"b", ""}});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->isr, (std::vector<NodeId>{"a", "b"}));
  c.state = *next;
  c.publish();
  for (int i = 0; i < 5; ++i) {
    c.now += 100;
    c.tick_all("c");
  }
  EXPECT_TRUE(c.proposals.empty()) << "proposed again: " << c.proposals.size();
}

TEST(Replica, AStoppedFollowerIsNotProposedBackIn) {
  Cluster c(options());
  c.now += 100;
  ASSERT_TRUE(c.replicas["a"]->append(c.now, "m").ok());
  for (int i = 0; i < 5; ++i) {
    c.now += 20;
    c.tick_all();
  }
  ASSERT_EQ(c.replicas["a"]->confirmed_end(), LogOffset(1));
  for (int i = 0; i < 15 && c.proposals.empty(); ++i) {  // c stops
    c.now += 100;
    c.tick_all("c");
  }
  ASSERT_EQ(c.proposals.size(), 1u);
  c.settle_proposals();
  EXPECT_EQ(c.state.isr, (std::vector<NodeId>{"a", "b"}));
  for (int i = 0; i < 50; ++i) {
    c.now += 100;
    c.tick_all("c");
  }
  EXPECT_TRUE(c.proposals.empty()) << "proposed again: " << c.proposals.size();
  EXPECT_EQ(c.state.isr, (std::vector<NodeId>{"a", "b"}));
}

TEST(Replica, AFollowerCutsItsDivergentSuffixByLeaderEpoch) {
  Cluster c(options());
  ASSERT_TRUE(c.replicas["a"]->append(c.now, "m0").ok());
  c.now += 20;
  c.tick_all();
  c.now += 20;
  c.tick_all();
  ASSERT_EQ(c.logs["b"].end_offset(), LogOffset(1));
  // a writes two more that nobody fetches, then loses its leadership to b.
  ASSERT_TRUE(c.replicas["a"]->append(c.now, "lost1").ok());
  ASSERT_TRUE(c.replicas["a"]->append(c.now, "lost2").ok());
  c.state = elect_leader(c.state, [](const NodeId& n) { return n != "a"; });
  ASSERT_EQ(c.state.leader, "b");
  ASSERT_EQ(c.state.leader_epoch, LeaderEpoch(2));
  c.state.isr.push_back("a");  // as if a were proposed back in (it follows either way)
  c.publish();
  ASSERT_TRUE(c.replicas["b"]->append(c.now, "new1").ok());
  for (int i = 0; i < 5; ++i) {
    c.now += 20;
    c.tick_all();
  }
  // a's epoch-1 suffix (unconfirmed) is gone, and it has b's log.
  ASSERT_EQ(c.logs["a"].end_offset(), LogOffset(2));
  EXPECT_EQ(c.logs["a"].at(LogOffset(0)).payload, "m0");
  EXPECT_EQ(c.logs["a"].at(LogOffset(1)), entry(2, "new1"));
}

TEST(Replica, ADeposedLeaderIsFencedAndCannotConfirm) {
  Cluster c(options());
  c.state = elect_leader(c.state, [](const NodeId& n) { return n != "a"; });
  // b and c know the new epoch; a does not yet.
  c.replicas["b"]->on_state(c.now, c.state);
  c.replicas["c"]->on_state(c.now, c.state);
  ASSERT_TRUE(c.replicas["a"]->append(c.now, "stale").ok());
  for (int i = 0; i < 5; ++i) {
    c.now += 20;
    c.tick_all();
  }
  EXPECT_EQ(c.replicas["a"]->confirmed_end(), LogOffset(0));
  // Its ISR change is refused by the compare-and-swap.
  IsrChange change{"a", LeaderEpoch(1), 1, {"a"}};
  Result<PartitionState> r = apply_isr_change(c.state, change);
  ASSERT_FALSE(r.ok());
}

TEST(PartitionStateRules, IsrChangesAreCompareAndSwapAndElectionStaysInTheIsr) {
  PartitionState s;
  s.replicas = {"a", "b", "c"};
  s.leader = "a";
  s.leader_epoch = LeaderEpoch(4);
  s.isr = {"a", "b"};
  s.version = 7;
  EXPECT_EQ(apply_isr_change(s, {"a", LeaderEpoch(4), 6, {"a"}}).error().message, "partition changed");
  EXPECT_EQ(apply_isr_change(s, {"a", LeaderEpoch(4), 7, {"b"}}).error().message, "bad in-sync set");
  EXPECT_EQ(apply_isr_change(s, {"a", LeaderEpoch(4), 7, {"a", "x"}}).error().message, "bad in-sync set");
  Result<PartitionState> ok = apply_isr_change(s, {"a", LeaderEpoch(4), 7, {"a", "b", "c"}});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->version, 8);
  // c is alive but not in sync: never elected (unclean election off).
  PartitionState e = elect_leader(s, [](const NodeId& n) { return n == "c"; });
  EXPECT_EQ(e.leader, "");
  EXPECT_EQ(e.leader_epoch, LeaderEpoch(5));
  EXPECT_EQ(e.isr, (std::vector<NodeId>{"a", "b"}));
  PartitionState f = elect_leader(s, [](const NodeId& n) { return n != "a"; });
  EXPECT_EQ(f.leader, "b");
  EXPECT_EQ(f.isr, (std::vector<NodeId>{"b"}));
}

// A broker restarted (kill -9, started again within its lease): its replica
// log is empty (memory-only) while etcd may still name it leader and in
// sync. Before the fencing it led epoch 1 with the empty log, and its
// followers truncated to match: receipted writes gone.
TEST(Replica, ARestartedBrokerNeitherLeadsNorFetchesUntilItsIncarnationIsRecorded) {
  ReplicaOptions o = options();
  Cluster c(o);
  for (const NodeId& n : c.state.replicas) c.state.incarnations[n] = "";
  ASSERT_TRUE(c.replicas["a"]->append(c.now, "x").ok());
  for (int i = 0; i < 5; ++i) {
    c.now += 20;
    c.tick_all();
  }
  ASSERT_EQ(c.replicas["a"]->confirmed_end(), LogOffset(1));
  // a restarts: a new process, an empty log, another incarnation.
  ReplicaOptions restarted = o;
  restarted.incarnation = "a2";
  c.logs["a"] = ReplicaLog();
  c.replicas["a"] = std::make_unique<Replica>("a", c.logs["a"], restarted, *c.hosts["a"]);
  c.publish();  // the state still names a leader, in sync, as its previous run
  EXPECT_EQ(c.replicas["a"]->role(), Replica::Role::kNone);
  EXPECT_FALSE(c.replicas["a"]->append(c.now, "y").ok());
  for (int i = 0; i < 5; ++i) {
    c.now += 20;
    c.tick_all();
  }
  EXPECT_EQ(c.logs["b"].end_offset(), LogOffset(1));  // nobody truncated to the empty log
  EXPECT_EQ(c.logs["c"].end_offset(), LogOffset(1));
  // The controller fences it: b leads in epoch 2, a follows and fetches
  // everything from offset 0.
  auto next = fence_and_elect(c.state, {{"a", "a2"}, {"b", ""}, {"c", ""}});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->leader, "b");
  EXPECT_EQ(next->leader_epoch, LeaderEpoch(2));
  EXPECT_EQ(next->isr, (std::vector<NodeId>{"b", "c"}));
  c.state = *next;
  c.publish();
  EXPECT_EQ(c.replicas["a"]->role(), Replica::Role::kFollower);
  for (int i = 0; i < 5; ++i) {
    c.now += 20;
    c.tick_all();
  }
  EXPECT_EQ(c.logs["a"].end_offset(), LogOffset(1));
  // Caught up, the leader proposes it back in.
  c.settle_proposals();
  EXPECT_TRUE(c.state.in_isr("a"));
}

TEST(Replica, ALeaderForgetsWhatARestartedFollowerHad) {
  ReplicaOptions o = options();
  o.min_insync = 3;
  Cluster c(o);
  ASSERT_TRUE(c.replicas["a"]->append(c.now, "x").ok());
  for (int i = 0; i < 5; ++i) {
    c.now += 20;
    c.tick_all();
  }
  ASSERT_EQ(c.replicas["a"]->confirmed_end(), LogOffset(1));
  // c restarts empty; the controller fences it (out of the set, its new
  // incarnation recorded) and a must not propose it back in on what the
  // previous run had.
  ReplicaOptions restarted = o;
  restarted.incarnation = "c2";
  c.logs["c"] = ReplicaLog();
  c.replicas["c"] = std::make_unique<Replica>("c", c.logs["c"], restarted, *c.hosts["c"]);
  auto next = fence_and_elect(c.state, {{"a", ""}, {"b", ""}, {"c", "c2"}});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->leader, "a");
  EXPECT_EQ(next->leader_epoch, LeaderEpoch(1));
  EXPECT_EQ(next->isr, (std::vector<NodeId>{"a", "b"}));
  c.state = *next;
  c.replicas["a"]->on_state(c.now, c.state);
  c.replicas["b"]->on_state(c.now, c.state);
  c.replicas["a"]->tick(c.now);  // c has not fetched yet
  EXPECT_TRUE(c.proposals.empty());
}

TEST(PartitionStateRules, FencingARestartedReplicaAndElection) {
  PartitionState s;
  s.replicas = {"a", "b", "c"};
  s.leader = "a";
  s.leader_epoch = LeaderEpoch(3);
  s.isr = {"a", "b", "c"};
  s.incarnations = {{"a", "a1"}, {"b", "b1"}, {"c", "c1"}};
  s.version = 9;
  const std::map<NodeId, std::string> same = {{"a", "a1"}, {"b", "b1"}, {"c", "c1"}};
  EXPECT_FALSE(fence_and_elect(s, same));  // nothing to do
  // A follower gone (its member key): out of the set; the leader stays.
  auto gone = fence_and_elect(s, {{"a", "a1"}, {"b", "b1"}});
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->isr, (std::vector<NodeId>{"a", "b"}));
  EXPECT_EQ(gone->leader_epoch, LeaderEpoch(3));
  EXPECT_EQ(gone->version, 10);
  // The leader gone: the first live member of the set leads.
  auto failover = fence_and_elect(s, {{"b", "b1"}, {"c", "c1"}});
  ASSERT_TRUE(failover);
  EXPECT_EQ(failover->leader, "b");
  EXPECT_EQ(failover->leader_epoch, LeaderEpoch(4));
  EXPECT_EQ(failover->isr, (std::vector<NodeId>{"b", "c"}));
  // The leader restarted, its member key back at once: replaced all the same.
  auto restarted = fence_and_elect(s, {{"a", "a2"}, {"b", "b1"}, {"c", "c1"}});
  ASSERT_TRUE(restarted);
  EXPECT_EQ(restarted->leader, "b");
  EXPECT_EQ(restarted->leader_epoch, LeaderEpoch(4));
  EXPECT_EQ(restarted->isr, (std::vector<NodeId>{"b", "c"}));
  EXPECT_EQ(restarted->incarnation_of("a"), "a2");
  // The only in-sync member restarted: leaderless, never led by an empty log.
  PartitionState alone = s;
  alone.isr = {"a"};
  auto unavailable = fence_and_elect(alone, {{"a", "a2"}, {"b", "b1"}, {"c", "c1"}});
  ASSERT_TRUE(unavailable);
  EXPECT_EQ(unavailable->leader, "");
  EXPECT_EQ(unavailable->leader_epoch, LeaderEpoch(4));
  EXPECT_TRUE(unavailable->isr.empty());
  EXPECT_FALSE(fence_and_elect(*unavailable, {{"a", "a2"}, {"b", "b1"}, {"c", "c1"}}));
  // The last in-sync member back with its log (a lapsed lease, the same
  // incarnation): it leads again.
  PartitionState leaderless = alone;
  leaderless.leader.clear();
  auto back = fence_and_elect(leaderless, same);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->leader, "a");
  EXPECT_EQ(back->leader_epoch, LeaderEpoch(4));
  // The dead leader with nobody to replace it stays named (it may return).
  EXPECT_FALSE(fence_and_elect(alone, {{"b", "b1"}, {"c", "c1"}}));
}

}  // namespace
}  // namespace ferry::cluster
