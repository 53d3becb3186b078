// Membership and the controller election on the fake store, on the fake's
// clock: registration under a lease, one controller among racing brokers,
// the epoch raised on every change, a lease that runs out.
#include "cluster/membership.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "cluster/fake_coordinator.h"

namespace ferry::cluster {
namespace {

// The store as seen through a read that is no longer current: while
// frozen, range() answers from a snapshot (what a broker read just before
// others wrote); writes go to the real store. Brokers that all read "no
// controller" before any of them writes race on the transaction.
class StaleReads final : public Coordinator {
 public:
  explicit StaleReads(FakeCoordinator& real) : real_(real) {}
  void freeze() { snapshot_ = *real_.range(""); }
  void thaw() { snapshot_.reset(); }
  Result<Lease> grant_lease(std::int64_t ttl_s) override { return real_.grant_lease(ttl_s); }
  Result<std::int64_t> keep_alive(LeaseId lease) override { return real_.keep_alive(lease); }
  Status revoke_lease(LeaseId lease) override { return real_.revoke_lease(lease); }
  Result<TxnResult> txn(const Txn& t) override { return real_.txn(t); }
  Result<RangeResult> range(const std::string& prefix) override {
    if (!snapshot_) return real_.range(prefix);
    RangeResult r;
    r.revision = snapshot_->revision;
    for (const KeyValue& kv : snapshot_->kvs)
      if (kv.key.starts_with(prefix)) r.kvs.push_back(kv);
    return r;
  }

 private:
  FakeCoordinator& real_;
  std::optional<RangeResult> snapshot_;
};

class MembershipTest : public ::testing::Test {
 protected:
  Membership& add(const std::string& name, std::int64_t ttl_s = 3, Coordinator* via = nullptr) {
    ClusterOptions o;
    o.etcd_endpoints = {"fake"};
    o.cluster_name = "c";
    o.lease_ttl_s = ttl_s;
    nodes_.push_back(std::make_unique<Membership>(via != nullptr ? *via : store_, o, MemberInfo{name, "127.0.0.1:1", "127.0.0.1:2", "t"}));
    alive_.push_back(true);
    return *nodes_.back();
  }
  // One round of every live broker, then time moves on by `ms`.
  void round(std::int64_t ms = 500) {
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (alive_[i]) (void)nodes_[i]->step(store_.now_ms());
    store_.advance(ms);
  }
  // A broker that stops running (kill -9): no more steps, no revoke.
  void kill(std::size_t i) { alive_[i] = false; }
  std::vector<std::string> controllers() const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (alive_[i] && nodes_[i]->view().is_controller) out.push_back(nodes_[i]->view().node);
    return out;
  }
  std::int64_t stored_epoch() {
    auto kv = *store_.get("/ferry/c/controller_epoch");
    return kv ? std::stoll(kv->value) : 0;
  }

  FakeCoordinator store_;
  std::vector<std::unique_ptr<Membership>> nodes_;
  std::vector<bool> alive_;
};

TEST_F(MembershipTest, ASingleBrokerRegistersAndBecomesController) {
  Membership& a = add("a");
  round();
  EXPECT_EQ(a.view().coordination, Coordination::kOk);
  EXPECT_TRUE(a.view().is_controller);
  EXPECT_EQ(a.view().controller, "a");
  EXPECT_EQ(a.view().controller_epoch, 1);
  ASSERT_EQ(a.view().members.size(), 1u);
  EXPECT_EQ(a.view().members[0].stomp, "127.0.0.1:1");
  auto member = *store_.get("/ferry/c/members/a");
  ASSERT_TRUE(member);
  EXPECT_EQ(member->lease, a.view().lease);
  auto controller = *store_.get("/ferry/c/controller");
  ASSERT_TRUE(controller);
  EXPECT_EQ(controller->lease, a.view().lease);  // it goes with a's lease
  EXPECT_EQ(stored_epoch(), 1);
}

TEST_F(MembershipTest, ThreeRacingBrokersElectExactlyOne) {
  add("a");
  add("b");
  add("c");
  round();  // all three find no controller in the same round: one CAS wins
  EXPECT_EQ(controllers().size(), 1u);
  EXPECT_EQ(stored_epoch(), 1);
  round();
  ASSERT_EQ(controllers().size(), 1u);
  for (const auto& n : nodes_) {
    EXPECT_EQ(n->view().controller, controllers()[0]);
    EXPECT_EQ(n->view().controller_epoch, 1);
    EXPECT_EQ(n->view().members.size(), 3u);
  }
}

TEST_F(MembershipTest, BrokersThatAllReadNoControllerStillElectOne) {
  StaleReads stale(store_);
  add("a", 3, &stale);
  add("b", 3, &stale);
  add("c", 3, &stale);
  stale.freeze();  // every broker reads: no controller, no epoch
  round();         // and all three stand on that read: one transaction holds
  EXPECT_EQ(controllers().size(), 1u);
  EXPECT_EQ(stored_epoch(), 1);
  stale.thaw();
  round();
  EXPECT_EQ(controllers().size(), 1u);
}

TEST_F(MembershipTest, AnEpochIsNeverReusedByABrokerStandingOnAStaleRead) {
  StaleReads stale(store_);
  Membership& a = add("a", 3, &stale);
  stale.freeze();  // a will read: no controller, no epoch
  Membership& d = add("d");
  (void)d.step(store_.now_ms());
  ASSERT_TRUE(d.view().is_controller);
  ASSERT_EQ(stored_epoch(), 1);
  d.leave();  // the controller key goes, controller_epoch stays 1
  alive_[1] = false;
  (void)a.step(store_.now_ms());
  // a stood on "no epoch yet" and must have failed: epoch 1 is d's alone.
  EXPECT_FALSE(a.view().is_controller);
  EXPECT_EQ(stored_epoch(), 1);
  stale.thaw();
  (void)a.step(store_.now_ms());
  EXPECT_TRUE(a.view().is_controller);
  EXPECT_EQ(a.view().controller_epoch, 2);
}

TEST_F(MembershipTest, AnExistingControllerKeyIsNeverOverwritten) {
  StaleReads stale(store_);
  Membership& a = add("a", 3, &stale);
  stale.freeze();  // a will read: nothing at all
  // A controller key appears that a's read does not show (written without
  // the epoch, as an older Ferry or an operator might).
  auto other = *store_.grant_lease(30);
  (void)store_.put("/ferry/c/controller", R"({"node":"x","epoch":9})", other.id);
  round();
  EXPECT_FALSE(a.view().is_controller);
  auto kv = *store_.get("/ferry/c/controller");
  ASSERT_TRUE(kv);
  EXPECT_NE(kv->value.find("\"x\""), std::string::npos);
}

TEST_F(MembershipTest, AKilledControllerIsReplacedWithAHigherEpochAfterItsLease) {
  add("a");
  add("b");
  add("c");
  round();
  round();
  ASSERT_EQ(controllers().size(), 1u);
  const std::string first = controllers()[0];
  std::size_t killed = first == "a" ? 0 : first == "b" ? 1 : 2;
  kill(killed);
  // Within the TTL the dead controller's key still stands: nobody else takes it.
  round(1000);
  round(1000);
  EXPECT_TRUE(controllers().empty());
  for (int i = 0; i < 10 && controllers().empty(); ++i) round(500);
  ASSERT_EQ(controllers().size(), 1u);
  EXPECT_NE(controllers()[0], first);
  EXPECT_EQ(stored_epoch(), 2);
  round();
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!alive_[i]) continue;
    EXPECT_EQ(nodes_[i]->view().controller_epoch, 2);
    EXPECT_EQ(nodes_[i]->view().members.size(), 2u);  // the dead one's member key went with its lease
  }
}

TEST_F(MembershipTest, EveryChangeOfControllerRaisesTheEpoch) {
  add("a");
  add("b");
  round();
  std::set<std::int64_t> epochs;
  for (int change = 0; change < 4; ++change) {
    round();
    ASSERT_EQ(controllers().size(), 1u);
    const std::string holder = controllers()[0];
    std::size_t i = holder == "a" ? 0 : 1;
    epochs.insert(nodes_[i]->view().controller_epoch);
    nodes_[i]->leave();  // revoke: the key goes at once
    round();
    round();
  }
  EXPECT_EQ(epochs, (std::set<std::int64_t>{1, 2, 3, 4}));
}

TEST_F(MembershipTest, ABrokerThatCannotRenewKnowsWhenItsLeaseMayHaveEnded) {
  Membership& a = add("a", 3);
  round();
  ASSERT_TRUE(a.view().is_controller);
  store_.set_reachable(false);
  round(1000);
  // Unanswered, but the last keep-alive proves the lease for 3 s after it.
  EXPECT_EQ(a.view().coordination, Coordination::kRenewing);
  EXPECT_TRUE(a.view().is_controller);
  EXPECT_FALSE(a.view().last_error.empty());
  round(1000);
  round(1000);
  round(1000);
  EXPECT_EQ(a.view().coordination, Coordination::kLost);
  EXPECT_FALSE(a.view().is_controller);
  EXPECT_EQ(a.view().controller, "");
}

TEST_F(MembershipTest, ALostBrokerRejoinsWithANewLeaseAndANewEpoch) {
  Membership& a = add("a", 3);
  round();
  const LeaseId first = a.view().lease;
  store_.set_reachable(false);
  for (int i = 0; i < 8; ++i) round(1000);  // its lease ends at the store too
  EXPECT_EQ(a.view().coordination, Coordination::kLost);
  store_.set_reachable(true);
  EXPECT_FALSE(*store_.get("/ferry/c/members/a"));
  round();  // keep-alive says the lease is gone
  round();  // a new lease, registered again, controller again
  round();
  EXPECT_EQ(a.view().coordination, Coordination::kOk);
  EXPECT_NE(a.view().lease, first);
  EXPECT_TRUE(a.view().is_controller);
  EXPECT_EQ(a.view().controller_epoch, 2);
  EXPECT_TRUE(*store_.get("/ferry/c/members/a"));
}

TEST_F(MembershipTest, AStaleControllerKeyFromAnOldLeaseIsNotMine) {
  // The controller key names "a" but under a lease a no longer holds (a
  // previous life of a): a is not the controller until that key goes.
  auto old = *store_.grant_lease(3);
  (void)store_.put("/ferry/c/controller", R"({"node":"a","epoch":7})", old.id);
  (void)store_.put("/ferry/c/controller_epoch", "7");
  Membership& a = add("a", 3);
  round();
  EXPECT_FALSE(a.view().is_controller);
  EXPECT_EQ(a.view().controller, "a");
  for (int i = 0; i < 8; ++i) round(500);  // the old lease ends
  EXPECT_TRUE(a.view().is_controller);
  EXPECT_EQ(a.view().controller_epoch, 8);
}

TEST_F(MembershipTest, TwoBrokersWithOneNameAreNoticed) {
  Membership& a1 = add("a");
  Membership& a2 = add("a");
  round();
  round();
  EXPECT_TRUE(a1.view().duplicate_name || a2.view().duplicate_name);
}

TEST_F(MembershipTest, RejoiningUnderANewLeaseIsNotADuplicate) {
  Membership& a = add("a", 3);
  round();
  store_.set_reachable(false);
  for (int i = 0; i < 8; ++i) round(1000);
  store_.set_reachable(true);
  for (int i = 0; i < 4; ++i) round();
  EXPECT_EQ(a.view().coordination, Coordination::kOk);
  EXPECT_FALSE(a.view().duplicate_name);
}

TEST_F(MembershipTest, StartingWithoutEtcdIsNotLost) {
  Membership& a = add("a");
  store_.set_reachable(false);
  round();
  EXPECT_EQ(a.view().coordination, Coordination::kStarting);
  EXPECT_FALSE(a.view().last_error.empty());
  store_.set_reachable(true);
  round();
  EXPECT_EQ(a.view().coordination, Coordination::kOk);
}

}  // namespace
}  // namespace ferry::cluster
