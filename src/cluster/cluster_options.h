#pragma once

#include <cstddef>
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
  // cluster-listen: HOST:PORT of the replication listener (brokers fetch
  // replicated logs from each other there); off when not set. Port 0 picks
  // a free port; the bound address is published in the member key.
  bool replication_enabled = false;
  std::string replication_host;
  std::uint16_t replication_port = 0;
  // cluster-replication-factor, min-insync-replicas (Kafka's names): the
  // replicas a replicated log gets (capped by the live brokers), and how
  // many must have a write before it is confirmed.
  std::size_t replication_factor = 3;
  std::size_t min_insync = 2;
  // replica-lag-time-max (Kafka's replica.lag.time.max.ms).
  std::int64_t replica_lag_max_ms = 10'000;

  bool enabled() const { return !etcd_endpoints.empty(); }
};

}  // namespace ferry::cluster
