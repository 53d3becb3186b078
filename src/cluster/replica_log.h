#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "cluster/replication_types.h"

namespace ferry::cluster {

// One replica's copy of a replicated log: records with the leader epoch
// each was written in, and the leader-epoch index Kafka keeps beside its
// log (epoch -> first offset, KIP-101), which truncation after a leader
// change reads. In memory here: the layer above persists the records it
// is given (the journal or a stream partition) before a follower reports
// them in its next fetch; what replication needs is this interface.
// Owned by the shard (or the simulated node) that owns the replica.
class ReplicaLog {
 public:
  // The offset the next record gets (Kafka's log end offset, LEO).
  LogOffset end_offset() const { return LogOffset(static_cast<std::int64_t>(entries_.size())); }
  // The epoch of the last record; 0 when empty.
  LeaderEpoch last_epoch() const { return epochs_.empty() ? LeaderEpoch(0) : epochs_.back().first; }

  // Appends at end_offset(). Epochs never go back within a log.
  LogOffset append(LogEntry e);
  const LogEntry& at(LogOffset o) const;
  // Up to `max` records from `from` (<= end_offset()).
  std::vector<LogEntry> read(LogOffset from, std::size_t max) const;
  // Keeps [0, end): drops a follower's divergent suffix.
  void truncate(LogOffset end);

  // KIP-101's OffsetsForLeaderEpoch: the largest epoch <= `epoch` that has
  // records here, and the offset after its last record (the first offset
  // of the next epoch, or end_offset()). {0, 0} when there is none.
  struct EpochEnd {
    LeaderEpoch epoch;
    LogOffset end_offset;
  };
  EpochEnd end_of_epoch(LeaderEpoch epoch) const;

 private:
  std::vector<LogEntry> entries_;
  std::vector<std::pair<LeaderEpoch, LogOffset>> epochs_;  // (epoch, first offset), ascending
};

}  // namespace ferry::cluster
