#pragma once

#include <optional>
#include <string>

#include "broker/broker.h"
#include "broker/stream_replication.h"
#include "cluster/cluster_service.h"

namespace ferry::app {

// The broker's streams over the cluster's replicated logs
// (docs/cluster.md, "Replicated streams"): with cluster-listen set, every
// single-partition stream is one log, "stream/<vhost>/<name>" (each
// escaped as a stream directory name), its entries encoded as below.
// Lives as long as the broker's shards (serve.cc).
class ReplicatedStreams : public broker::StreamReplication {
 public:
  ReplicatedStreams(broker::Broker& broker, cluster::ClusterService& cluster) : broker_(broker), cluster_(cluster) {}

  bool replicated(const broker::Destination& d) const override;
  void append(const broker::Destination& d, const stream::StreamEntry& e, std::function<void(Status)> done) override;
  // The cluster's apply: a committed record of a log, into its stream.
  void apply(const std::string& log, cluster::LogOffset offset, const std::string& payload);

  static std::optional<std::string> log_name(const broker::Destination& d);
  static std::optional<broker::Destination> destination_of(const std::string& log);
  // A stream entry as a replicated record: u8 has key, [u32 len, key],
  // i64 timestamp, u32 header count, [u32 len, name, u32 len, value]...,
  // u32 len, body. Little-endian.
  static std::string encode_entry(const stream::StreamEntry& e);
  static std::optional<stream::StreamEntry> decode_entry(const std::string& payload);

 private:
  broker::Broker& broker_;
  cluster::ClusterService& cluster_;
};

}  // namespace ferry::app
