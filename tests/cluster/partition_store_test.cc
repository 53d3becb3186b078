// Replicated logs' metadata in etcd, on the fake: created by the
// controller, ISR changes by compare-and-swap, elections fenced by the
// controller key's revision.
#include "cluster/partition_store.h"

#include <gtest/gtest.h>

#include "cluster/fake_coordinator.h"

namespace ferry::cluster {
namespace {

class PartitionStoreTest : public ::testing::Test {
 protected:
  PartitionStoreTest() : keys_("test"), parts_(fake_, keys_) {
    controller_rev_ = *fake_.put(keys_.controller, R"({"node":"a","epoch":1})");
  }
  FakeCoordinator fake_;
  ClusterKeys keys_;
  PartitionStore parts_;
  Revision controller_rev_;
};

TEST_F(PartitionStoreTest, TheControllerCreatesALogOnceLedByItsFirstReplica) {
  ASSERT_TRUE(*parts_.create("/stream/orders/0", {"b", "c", "a"}, controller_rev_));
  EXPECT_FALSE(*parts_.create("/stream/orders/0", {"a", "b", "c"}, controller_rev_));  // exists
  auto s = *parts_.read("/stream/orders/0");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->leader, "b");
  EXPECT_EQ(s->leader_epoch, LeaderEpoch(1));
  EXPECT_EQ(s->isr, (std::vector<NodeId>{"b", "c", "a"}));
  EXPECT_EQ(parts_.key("/stream/orders/0"), "/ferry/test/partitions/%2Fstream%2Forders%2F0");
  auto all = *parts_.read_all();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all.begin()->first, "/stream/orders/0");
  EXPECT_EQ(all.begin()->second.version, s->version);
}

TEST_F(PartitionStoreTest, ADeposedControllerCannotCreateOrElect) {
  ASSERT_TRUE(*parts_.create("q", {"a", "b", "c"}, controller_rev_));
  PartitionState s = **parts_.read("q");
  // Another controller took over: the key's revision moved.
  Revision newer = *fake_.put(keys_.controller, R"({"node":"b","epoch":2})");
  EXPECT_FALSE(*parts_.create("q2", {"a", "b"}, controller_rev_));
  auto elected = *parts_.elect("q", s, [](const NodeId& n) { return n != "a"; }, controller_rev_);
  EXPECT_FALSE(elected);
  elected = *parts_.elect("q", s, [](const NodeId& n) { return n != "a"; }, newer);
  ASSERT_TRUE(elected);
  EXPECT_EQ(elected->leader, "b");
  EXPECT_EQ(elected->leader_epoch, LeaderEpoch(2));
  EXPECT_EQ(**parts_.read("q"), *elected);
}

TEST_F(PartitionStoreTest, IsrChangesAreCompareAndSwapFencedByLeaderEpoch) {
  ASSERT_TRUE(*parts_.create("q", {"a", "b", "c"}, controller_rev_));
  PartitionState s = **parts_.read("q");
  PartitionState shrunk = *parts_.alter_isr("q", IsrChange{"a", LeaderEpoch(1), s.version, {"a", "b"}});
  EXPECT_EQ(shrunk.isr, (std::vector<NodeId>{"a", "b"}));
  EXPECT_GT(shrunk.version, s.version);
  // A repeat on the old version is refused: the answer is the current state.
  PartitionState again = *parts_.alter_isr("q", IsrChange{"a", LeaderEpoch(1), s.version, {"a"}});
  EXPECT_EQ(again, shrunk);
  // A deposed leader (epoch 1 after an election) changes nothing.
  auto elected = *parts_.elect("q", shrunk, [](const NodeId& n) { return n != "a"; }, controller_rev_);
  ASSERT_TRUE(elected);
  PartitionState fenced = *parts_.alter_isr("q", IsrChange{"a", LeaderEpoch(1), elected->version, {"a", "b"}});
  EXPECT_EQ(fenced, *elected);
  EXPECT_EQ(fenced.leader, "b");
}

TEST_F(PartitionStoreTest, IncarnationsAreRecordedAndUpdatesAreFencedByTheController) {
  ASSERT_TRUE(*parts_.create("q", {"a", "b"}, controller_rev_, {{"a", "a1"}, {"b", "b1"}, {"x", "x1"}}));
  PartitionState s = **parts_.read("q");
  EXPECT_EQ(s.incarnations, (std::map<NodeId, std::string>{{"a", "a1"}, {"b", "b1"}}));
  auto next = fence_and_elect(s, {{"a", "a2"}, {"b", "b1"}});
  ASSERT_TRUE(next);
  Revision newer = *fake_.put(keys_.controller, R"({"node":"b","epoch":2})");
  EXPECT_FALSE(*parts_.update("q", s, *next, controller_rev_));  // a deposed controller
  auto done = *parts_.update("q", s, *next, newer);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->leader, "b");
  EXPECT_EQ(**parts_.read("q"), *done);
  EXPECT_EQ((**parts_.read("q")).incarnation_of("a"), "a2");
  EXPECT_FALSE(*parts_.update("q", s, *next, newer));  // on a state changed since
}

TEST_F(PartitionStoreTest, UnreachableEtcdIsAnError) {
  fake_.set_reachable(false);
  EXPECT_FALSE(parts_.read_all().ok());
  EXPECT_FALSE(parts_.create("q", {"a"}, controller_rev_).ok());
}

TEST(AssignReplicas, SpreadsLeadersAndNeverRepeatsABroker) {
  std::vector<NodeId> members = {"c", "a", "b", "a"};
  std::map<NodeId, int> leaders;
  for (int i = 0; i < 60; ++i) {
    std::vector<NodeId> r = assign_replicas(members, "log" + std::to_string(i), 2);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_NE(r[0], r[1]);
    ++leaders[r[0]];
    EXPECT_EQ(r, assign_replicas(members, "log" + std::to_string(i), 2));  // stable
  }
  EXPECT_EQ(leaders.size(), 3u);
  EXPECT_EQ(assign_replicas(members, "x", 5).size(), 3u);
  EXPECT_TRUE(assign_replicas({}, "x", 3).empty());
}

}  // namespace
}  // namespace ferry::cluster
