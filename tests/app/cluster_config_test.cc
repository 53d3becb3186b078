// The cluster's options (docs/cluster.md): off by default; cluster-etcd as
// a TOML list or comma-separated; names and endpoints checked.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "app/config.h"

namespace ferry::app {
namespace {

using Cli = std::vector<std::pair<std::string, std::string>>;

class ClusterConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ferry-cluster-config-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write_toml(const std::string& text) {
    const std::string path = (dir_ / "ferry.toml").string();
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(ClusterConfigTest, OffByDefault) {
  Config o = *load_options("", {});
  EXPECT_FALSE(o.cluster.enabled());
  EXPECT_EQ(o.cluster.node_name, "");
  EXPECT_EQ(o.cluster.cluster_name, "ferry");
  EXPECT_EQ(o.cluster.lease_ttl_s, 10);
}

TEST_F(ClusterConfigTest, EndpointsAsTomlListOrCommaSeparated) {
  Config o = *load_options(
      write_toml("cluster-etcd = [\"http://127.0.0.1:2379\", \"127.0.0.1:22379\"]\nnode-name = \"a\"\n"), {});
  EXPECT_TRUE(o.cluster.enabled());
  EXPECT_EQ(o.cluster.etcd_endpoints, (std::vector<std::string>{"http://127.0.0.1:2379", "127.0.0.1:22379"}));
  EXPECT_EQ(o.cluster.node_name, "a");
  o = *load_options("", Cli{{"cluster-etcd", "http://h1:1, http://h2:2"}, {"cluster-lease-ttl", "3"}});
  EXPECT_EQ(o.cluster.etcd_endpoints, (std::vector<std::string>{"http://h1:1", "http://h2:2"}));
  EXPECT_EQ(o.cluster.lease_ttl_s, 3);
  o = *load_options("", Cli{{"cluster-etcd", ""}});
  EXPECT_FALSE(o.cluster.enabled());
}

TEST_F(ClusterConfigTest, BadValuesAreRefusedWithTheReason) {
  auto refused = [](const Cli& cli, const std::string& text) {
    auto r = load_options("", cli);
    ASSERT_FALSE(r) << cli[0].first << "=" << cli[0].second;
    EXPECT_NE(r.error().text().find(text), std::string::npos) << r.error().text();
  };
  refused({{"cluster-etcd", "https://127.0.0.1:2379"}}, "https");
  refused({{"cluster-etcd", "127.0.0.1"}}, "HOST:PORT");
  refused({{"cluster-etcd", "http://h:0"}}, "HOST:PORT");
  refused({{"cluster-etcd", "http://h:1/path"}}, "HOST:PORT");
  refused({{"node-name", "a/b"}}, "letters");
  refused({{"node-name", std::string(65, 'a')}}, "letters");
  refused({{"cluster-name", ""}}, "letters");
  refused({{"cluster-lease-ttl", "0"}}, "positive");
}

}  // namespace
}  // namespace ferry::app
