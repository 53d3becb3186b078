#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::cluster {

// The cluster's part of the configuration (docs/cluster.md). No etcd
// endpoint: a single broker, nothing of the cluster runs.
struct ClusterOptions {
  // cluster-etcd: etcd v3 client URLs, http://HOST:PORT (or HOST:PORT).
  std::vector<std::string> etcd_endpoints;
  // node-name: this broker's name in the cluster, unique in it; "" = the
  // host name.
  std::string node_name;
  // cluster-name: the etcd key prefix /ferry/<cluster-name>/, so that
  // several clusters can share one etcd.
  std::string cluster_name = "ferry";
  // cluster-lease-ttl: seconds a broker stays a member (and controller)
  // after its last successful keep-alive.
  std::int64_t lease_ttl_s = 10;

  bool enabled() const { return !etcd_endpoints.empty(); }
};

}  // namespace ferry::cluster
