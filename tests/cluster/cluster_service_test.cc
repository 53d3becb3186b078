// ClusterService: the membership on its own thread, against the fake (the
// fake's clock is the service's clock, so lease expiry is the test's).
#include "cluster/cluster_service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "cluster/fake_coordinator.h"

namespace ferry::cluster {
namespace {

// A Coordinator that forwards to a shared fake (the service owns its store).
class Shared final : public Coordinator {
 public:
  explicit Shared(FakeCoordinator& f) : f_(f) {}
  Result<Lease> grant_lease(std::int64_t ttl_s) override { return f_.grant_lease(ttl_s); }
  Result<std::int64_t> keep_alive(LeaseId lease) override { return f_.keep_alive(lease); }
  Status revoke_lease(LeaseId lease) override { return f_.revoke_lease(lease); }
  Result<RangeResult> range(const std::string& prefix) override { return f_.range(prefix); }
  Result<TxnResult> txn(const Txn& t) override { return f_.txn(t); }

 private:
  FakeCoordinator& f_;
};

template <typename F>
bool eventually(F ok) {
  for (int i = 0; i < 500; ++i) {  // a generous deadline, not a measurement
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(ClusterServiceTest, JoinsElectsAndLeavesOnStop) {
  FakeCoordinator f;
  ClusterOptions o;
  o.etcd_endpoints = {"fake"};
  o.cluster_name = "s";
  o.lease_ttl_s = 3;
  ClusterService service(std::make_unique<Shared>(f), o, MemberInfo{"a", "", "", ""}, [&f] { return f.now_ms(); });
  service.start();
  ASSERT_TRUE(eventually([&] { return service.view().is_controller; }));
  EXPECT_TRUE(*f.get("/ferry/s/members/a"));
  service.stop();
  EXPECT_FALSE(*f.get("/ferry/s/members/a"));  // the lease was revoked
  EXPECT_FALSE(*f.get("/ferry/s/controller"));
  EXPECT_EQ(f.lease_count(), 0u);
}

TEST(ClusterServiceTest, TheViewIsLostPastTheDeadlineEvenBeforeTheNextStep) {
  FakeCoordinator f;
  ClusterOptions o;
  o.etcd_endpoints = {"fake"};
  o.lease_ttl_s = 3;
  ClusterService service(std::make_unique<Shared>(f), o, MemberInfo{"a", "", "", ""}, [&f] { return f.now_ms(); });
  service.start();
  ASSERT_TRUE(eventually([&] { return service.view().is_controller; }));
  f.set_reachable(false);
  f.advance(3000);  // the deadline passes on the service's clock
  const ClusterView v = service.view();
  EXPECT_EQ(v.coordination, Coordination::kLost);
  EXPECT_FALSE(v.is_controller);
  service.stop();
}

}  // namespace
}  // namespace ferry::cluster
