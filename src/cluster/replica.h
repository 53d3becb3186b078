#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "cluster/partition_state.h"
#include "cluster/replica_log.h"
#include "cluster/replication_messages.h"
#include "common/result.h"

namespace ferry::cluster {

// What a Replica needs from the world, injected so that the same logic
// runs over TCP between brokers, and over the simulated network of the
// tests. Calls are fire-and-forget: messages may be lost, delayed or
// reordered, and the Replica copes (it retries and fences by epoch).
class ReplicaHost {
 public:
  virtual ~ReplicaHost() = default;
  virtual void send(const NodeId& to, const FetchRequest& r) = 0;
  virtual void send(const NodeId& to, const FetchResponse& r) = 0;
  // Asks the metadata store (etcd, through the cluster thread) to apply an
  // ISR change by compare-and-swap; whatever the outcome, the partition's
  // state comes back through Replica::on_state().
  virtual void propose(const IsrChange& change) = 0;
  // The leader in `epoch`: every write below `end` is confirmed (in every
  // member of the in-sync set, and the set had at least min-insync
  // members). Called each time `end` grows.
  virtual void confirmed(LeaderEpoch epoch, LogOffset end) = 0;
};

struct ReplicaOptions {
  // Kafka's replica.lag.time.max.ms: a follower that has not been caught up
  // with the leader's end for this long leaves the in-sync set.
  std::int64_t lag_max_ms = 10'000;
  // Kafka's min.insync.replicas: below it the leader refuses writes.
  std::size_t min_insync = 2;
  // How often an idle follower asks again (the long-poll of a real
  // transport), and when it gives up on an unanswered fetch.
  std::int64_t fetch_interval_ms = 50;
  std::int64_t fetch_timeout_ms = 500;
  // When an unanswered ISR proposal is sent again (unchanged: the CAS makes
  // a repeat harmless).
  std::int64_t propose_retry_ms = 1'000;
  std::size_t max_fetch_records = 64;
  // This broker's incarnation (MemberInfo::incarnation). A state that
  // records another one for this replica predates a restart (this log is
  // empty): the replica takes no role until the controller has fenced the
  // old incarnation and recorded this one.
  std::string incarnation;
};

// One broker's replica of one replicated log, leader or follower, as
// Kafka's Partition of the ZooKeeper era: a step function with no clock
// and no I/O of its own (every call carries `now_ms`, every message goes
// through the ReplicaHost), owned by one thread.
//
// - The role follows the partition's state from etcd (on_state()): the
//   leader it names leads in its epoch, the other replicas follow.
// - Followers fetch by offset; the leader's high watermark is the lowest
//   end offset of the in-sync set — counting members whose addition is
//   proposed and those whose removal is not yet committed (Kafka's
//   "maximal ISR"), so a write is never counted on a member the committed
//   set has that has not got it.
// - A write is confirmed once below the high watermark while the in-sync
//   set has at least min_insync members; append() refuses below that.
// - A follower more than lag_max_ms behind is proposed out; one that has
//   caught up with max(high watermark, the leader's first offset of its
//   epoch) is proposed back in (the second bound is KIP-101's: a new
//   leader's high watermark may lag what its predecessor confirmed).
// - A state recording another incarnation of this broker (it restarted,
//   PartitionState::incarnations) gives it no role: it neither leads nor
//   fetches until the controller has fenced the old incarnation. A leader
//   seeing a follower's incarnation change forgets what that follower had.
// - After a leader change a follower cuts its log where it leaves the new
//   leader's, found by leader epoch (KIP-101/320), never by high watermark.
class Replica {
 public:
  enum class Role { kNone, kLeader, kFollower };

  Replica(NodeId self, ReplicaLog& log, ReplicaOptions options, ReplicaHost& host);

  // The partition's state as etcd holds it now (read, watched, or the
  // answer to a proposal). Older states than the one known are ignored.
  void on_state(std::int64_t now_ms, const PartitionState& state);
  void on_fetch(std::int64_t now_ms, const FetchRequest& r);
  void on_fetch_response(std::int64_t now_ms, const FetchResponse& r);
  // Periodic work: a follower's fetch, a leader's ISR checks.
  void tick(std::int64_t now_ms);

  // The leader appends a record written in its epoch. Refused when not
  // the leader or when the in-sync set is below min_insync (then nothing
  // is written). Confirmation comes later through ReplicaHost::confirmed().
  Result<LogOffset> append(std::int64_t now_ms, std::string payload);

  Role role() const { return role_; }
  LeaderEpoch epoch() const { return state_.leader_epoch; }
  const PartitionState& state() const { return state_; }
  LogOffset high_watermark() const { return hw_; }
  LogOffset confirmed_end() const { return confirmed_end_; }
  const ReplicaLog& log() const { return log_; }
  // The in-sync set the leader counts: the committed one plus a proposed addition.
  std::vector<NodeId> maximal_isr() const;

 private:
  struct Follower {
    LogOffset end;                   // its end offset as last validated in this epoch (-1: not yet)
    std::int64_t caught_up_ms = 0;   // when it last had the leader's end (Kafka's lastCaughtUpTimeMs)
    LogOffset leader_end_at_last_fetch;
    std::int64_t last_fetch_ms = 0;
  };

  void become_leader(std::int64_t now_ms);
  void become_follower();
  void advance_high_watermark(std::int64_t now_ms);
  void check_isr(std::int64_t now_ms);
  void send_fetch(std::int64_t now_ms);

  NodeId self_;
  ReplicaLog& log_;
  ReplicaOptions options_;
  ReplicaHost& host_;
  Role role_ = Role::kNone;
  PartitionState state_;
  LogOffset hw_;
  LogOffset confirmed_end_;

  // Leader.
  LogOffset epoch_start_;  // the log's end when this epoch's leadership began
  std::map<NodeId, Follower> followers_;
  std::optional<IsrChange> pending_;
  std::int64_t pending_sent_ms_ = 0;

  // Follower.
  std::uint64_t fetch_id_ = 0;
  bool fetch_outstanding_ = false;
  std::int64_t fetch_sent_ms_ = 0;
  std::int64_t next_fetch_ms_ = 0;
};

}  // namespace ferry::cluster
