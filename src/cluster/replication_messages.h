#pragma once

#include <cstdint>
#include <vector>

#include "cluster/replication_types.h"

namespace ferry::cluster {

// What replicas of one log send each other (docs/cluster.md, "Follower
// fetch"). Kafka's Fetch with KIP-320's divergence check: the follower says
// where its log ends and the epoch of its last record; the leader answers
// with the records after it, or with where the follower's log leaves its
// own, so the follower cuts its divergent suffix before copying anything.

struct FetchRequest {
  NodeId follower;
  LeaderEpoch leader_epoch;  // the follower's current epoch: a leader in another refuses
  std::uint64_t id = 0;      // the follower's request number: it takes only the answer to its latest
  LogOffset fetch_offset;    // the follower's end offset
  LeaderEpoch last_fetched_epoch;  // the epoch of the follower's last record (0: empty log)
  friend bool operator==(const FetchRequest&, const FetchRequest&) = default;
};

struct FetchResponse {
  enum class Kind : std::uint8_t {  // on the wire (docs/cluster.md, "Wire format")
    kRecords = 0,    // `records` follow fetch_offset (maybe none yet)
    kDiverging = 1,  // the follower's log leaves the leader's: truncate, then fetch again
    kFenced = 2,     // the leader is not the leader in the follower's epoch
  };
  NodeId leader;
  LeaderEpoch leader_epoch;  // the responder's epoch
  std::uint64_t id = 0;      // the request's
  Kind kind = Kind::kRecords;
  LogOffset fetch_offset;     // the request's
  std::vector<LogEntry> records;
  LogOffset high_watermark;   // the leader's
  LeaderEpoch diverging_epoch;     // kDiverging: the largest epoch of the leader's log <= last_fetched_epoch
  LogOffset diverging_end_offset;  // kDiverging: where that epoch ends in the leader's log
  friend bool operator==(const FetchResponse&, const FetchResponse&) = default;
};

}  // namespace ferry::cluster
