#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/strong_id.h"

namespace ferry::cluster {

// The values of log replication (docs/cluster.md, "Replication"), shared by
// queues and streams: both become a replicated log of opaque records.

// A position in a replicated log: the first record is at 0; a log's end
// offset is the offset the next record will get.
using LogOffset = StrongId<struct LogOffsetTag, std::int64_t>;
// Kafka's leader epoch: raised by the controller at every leader change, so
// that each record carries the epoch of the one leader that wrote it.
// 0 = none (no leader ever known).
using LeaderEpoch = StrongId<struct LeaderEpochTag, std::int64_t>;
// A broker, by its node-name.
using NodeId = std::string;

// One record of a replicated log: what the layer above wrote (a stream
// batch, a queue operation), tagged with the epoch it was written in.
struct LogEntry {
  LeaderEpoch epoch;
  std::string payload;
  friend bool operator==(const LogEntry&, const LogEntry&) = default;
};

// One log's metadata as etcd holds it (partitions/<vhost>/<name>/<n>):
// changed only by compare-and-swap on `version` (the key's mod_revision in
// etcd), by the controller (leader and epoch) or by the leader (isr).
struct PartitionState {
  NodeId leader;                // "" = no leader (no in-sync replica is alive)
  LeaderEpoch leader_epoch;     // raised with every leader change
  std::vector<NodeId> replicas;  // every broker that holds a copy, the preferred leader first
  std::vector<NodeId> isr;       // the in-sync set, leader included; never empty once led
  std::int64_t version = 0;      // raised by every change (the CAS guard)
  // Each replica's broker incarnation (MemberInfo::incarnation) as the
  // controller last saw it: a broker restarted since (its replica log is
  // memory-only, so empty) has another one, and neither leads nor counts in
  // sync until the controller has fenced the old one and recorded this
  // (Kafka's broker epoch). Missing: "" (states written before).
  std::map<NodeId, std::string> incarnations;

  bool in_isr(const NodeId& n) const;
  std::string incarnation_of(const NodeId& n) const;
  bool is_replica(const NodeId& n) const;
  friend bool operator==(const PartitionState&, const PartitionState&) = default;
};

// A leader's request to change the in-sync set, applied only if the
// partition is still at `base_version` and still led by `leader` in
// `leader_epoch` (a deposed leader cannot change it).
struct IsrChange {
  NodeId leader;
  LeaderEpoch leader_epoch;
  std::int64_t base_version = 0;
  std::vector<NodeId> isr;
};

}  // namespace ferry::cluster
