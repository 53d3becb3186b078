// The fake's etcd semantics: revisions, leases that take their keys with
// them, transactions that apply all or nothing.
#include "cluster/fake_coordinator.h"

#include <gtest/gtest.h>

namespace ferry::cluster {
namespace {

TEST(FakeCoordinatorTest, PutRaisesTheRevisionAndGetReadsIt) {
  FakeCoordinator f;
  Revision r1 = *f.put("/a", "1");
  Revision r2 = *f.put("/a", "2");
  EXPECT_LT(r1.value, r2.value);
  auto kv = *f.get("/a");
  ASSERT_TRUE(kv);
  EXPECT_EQ(kv->value, "2");
  EXPECT_EQ(kv->create_revision, r1);
  EXPECT_EQ(kv->mod_revision, r2);
  EXPECT_EQ(kv->version, 2);
  EXPECT_FALSE(*f.get("/ab"));  // get is exact, not a prefix
}

TEST(FakeCoordinatorTest, RangeReadsAPrefixInKeyOrder) {
  FakeCoordinator f;
  (void)f.put("/x/b", "2");
  (void)f.put("/x/a", "1");
  (void)f.put("/y", "3");
  auto r = *f.range("/x/");
  ASSERT_EQ(r.kvs.size(), 2u);
  EXPECT_EQ(r.kvs[0].key, "/x/a");
  EXPECT_EQ(r.kvs[1].key, "/x/b");
}

TEST(FakeCoordinatorTest, CompareAndSwapHoldsOnlyOnTheRevisionRead) {
  FakeCoordinator f;
  Txn create;
  create.compares.push_back({"/k", Revision(0)});  // must not exist
  create.puts.push_back({"/k", "first", LeaseId(0)});
  EXPECT_TRUE(f.txn(create)->succeeded);
  EXPECT_FALSE(f.txn(create)->succeeded);  // exists now
  const Revision seen = (*f.get("/k"))->mod_revision;
  Txn swap;
  swap.compares.push_back({"/k", seen});
  swap.puts.push_back({"/k", "second", LeaseId(0)});
  EXPECT_TRUE(f.txn(swap)->succeeded);
  EXPECT_FALSE(f.txn(swap)->succeeded);  // the revision moved on
  EXPECT_EQ((*f.get("/k"))->value, "second");
}

TEST(FakeCoordinatorTest, AFailedTransactionChangesNothing) {
  FakeCoordinator f;
  (void)f.put("/a", "1");
  const Revision before = f.range("")->revision;
  Txn t;
  t.compares.push_back({"/a", Revision(0)});
  t.puts.push_back({"/b", "x", LeaseId(0)});
  t.deletes.push_back("/a");
  EXPECT_FALSE(f.txn(t)->succeeded);
  EXPECT_EQ(f.range("")->revision, before);
  EXPECT_FALSE(*f.get("/b"));
  EXPECT_TRUE(*f.get("/a"));
}

TEST(FakeCoordinatorTest, AnExpiredLeaseTakesItsKeys) {
  FakeCoordinator f;
  auto lease = *f.grant_lease(3);
  (void)f.put("/owned", "x", lease.id);
  (void)f.put("/free", "y");
  f.advance(2999);
  EXPECT_TRUE(*f.get("/owned"));
  f.advance(1);
  EXPECT_FALSE(*f.get("/owned"));
  EXPECT_TRUE(*f.get("/free"));
  EXPECT_EQ(*f.keep_alive(lease.id), 0);  // gone
  EXPECT_FALSE(f.put("/again", "z", lease.id));  // a put under it is refused
}

TEST(FakeCoordinatorTest, KeepAliveRestartsTheTtl) {
  FakeCoordinator f;
  auto lease = *f.grant_lease(3);
  (void)f.put("/owned", "x", lease.id);
  for (int i = 0; i < 10; ++i) {
    f.advance(2000);
    EXPECT_EQ(*f.keep_alive(lease.id), 3);
  }
  EXPECT_TRUE(*f.get("/owned"));
}

TEST(FakeCoordinatorTest, RevokeDeletesAtOnceAndMinimumTtlApplies) {
  FakeCoordinator f;
  f.set_min_ttl(5);
  auto lease = *f.grant_lease(1);
  EXPECT_EQ(lease.ttl_s, 5);
  (void)f.put("/owned", "x", lease.id);
  EXPECT_TRUE(f.revoke_lease(lease.id).ok());
  EXPECT_FALSE(*f.get("/owned"));
  EXPECT_EQ(f.lease_count(), 0u);
}

TEST(FakeCoordinatorTest, UnreachableFailsEveryCallAndKeepsTheState) {
  FakeCoordinator f;
  (void)f.put("/a", "1");
  f.set_reachable(false);
  EXPECT_FALSE(f.get("/a"));
  EXPECT_FALSE(f.grant_lease(3));
  f.set_reachable(true);
  EXPECT_TRUE(*f.get("/a"));
}

TEST(FakeCoordinatorTest, PrefixEnd) {
  EXPECT_EQ(prefix_end("/a/"), "/a0");
  EXPECT_EQ(prefix_end(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefix_end(""), std::string(1, '\0'));
}

}  // namespace
}  // namespace ferry::cluster
