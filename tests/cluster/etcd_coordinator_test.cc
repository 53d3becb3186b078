// What the etcd client can check without an etcd: its endpoints and the
// base64 of the JSON gateway (a real etcd: tests/integration/test_cluster.py).
#include "cluster/etcd_coordinator.h"

#include <gtest/gtest.h>

namespace ferry::cluster {
namespace {

TEST(EtcdCoordinatorTest, Base64RoundTripsEveryLengthAndByte) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    const std::string encoded = base64_encode(bytes);
    EXPECT_EQ(encoded.size() % 4, 0u);
    auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded) << i;
    EXPECT_EQ(*decoded, bytes) << i;
    bytes.push_back(static_cast<char>(i * 37));
  }
  EXPECT_EQ(base64_encode("/ferry/"), "L2ZlcnJ5Lw==");
  EXPECT_EQ(base64_decode("L2ZlcnJ5Lw=="), std::optional<std::string>("/ferry/"));
  EXPECT_FALSE(base64_decode("abc"));   // not a multiple of 4
  EXPECT_FALSE(base64_decode("a!c="));  // not the alphabet
}

TEST(EtcdCoordinatorTest, Endpoints) {
  EXPECT_TRUE(check_etcd_endpoint("http://127.0.0.1:2379").ok());
  EXPECT_TRUE(check_etcd_endpoint("127.0.0.1:2379").ok());
  EXPECT_TRUE(check_etcd_endpoint("http://[::1]:2379/").ok());
  EXPECT_FALSE(check_etcd_endpoint("https://127.0.0.1:2379").ok());
  EXPECT_FALSE(check_etcd_endpoint("http://127.0.0.1").ok());
  EXPECT_FALSE(check_etcd_endpoint("http://127.0.0.1:x").ok());
  EXPECT_FALSE(EtcdCoordinator::create({"bad"}, 100));
  EXPECT_FALSE(EtcdCoordinator::create({}, 100));
}

TEST(EtcdCoordinatorTest, NoEtcdIsAnErrorNotAHang) {
  // Port 1 on loopback: nothing listens (connection refused at once).
  auto c = std::move(*EtcdCoordinator::create({"http://127.0.0.1:1", "127.0.0.1:1"}, 500));
  auto r = c->range("/ferry/");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "etcd unreachable");
  EXPECT_FALSE(c->grant_lease(3));
}

}  // namespace
}  // namespace ferry::cluster
