#pragma once

#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/replica.h"
#include "cluster/replica_log.h"
#include "cluster/replication_transport.h"

namespace ferry::cluster {

// A broker's replicas of every replicated log it holds, run on the
// ReplicationTransport's thread: messages from the transport go to the
// replica of their log, a timer ticks them all (followers fetch, leaders
// check the in-sync set), and what they send leaves through the transport.
// Everything is owned by, and called on, the transport's thread; other
// threads use the thread-safe calls, which post to it.
//
// Above the Replica it adds what a broker needs:
// - appends that answer once confirmed (acks=all), or with an error: not
//   the leader, below min-insync, leadership lost before confirmation, or
//   not confirmed within the timeout (then the write may still be
//   committed later: the client was not told it is, and may send again);
// - applying: every record below this replica's commit point (the
//   confirmed end on a leader, the high watermark learnt from the leader
//   on a follower) is handed, once and in order, to `apply`, which writes
//   it where clients read it (a stream's partition). Such a record is in
//   every member of the in-sync set, so no leader change cuts it;
// - the long poll of Kafka's fetch: a follower's fetch that finds nothing
//   new is answered when something is (an append, a new high watermark) or
//   after kLongPollMs, so a confirmation costs round trips, not polling
//   intervals.
class ReplicationNode {
 public:
  struct Callbacks {
    // A leader asks for an ISR change (applied by compare-and-swap in etcd,
    // off this thread); the result comes back through set_state().
    std::function<void(const std::string& log, const IsrChange&)> propose;
    // Record `offset` of `log` is committed: write it for readers.
    std::function<void(const std::string& log, LogOffset offset, const std::string& payload)> apply;
  };
  using Done = std::function<void(Result<LogOffset>)>;

  ReplicationNode(NodeId self, ReplicaOptions options, ReplicationTransport& transport, Callbacks callbacks,
                  std::function<std::int64_t()> clock);
  ~ReplicationNode();

  // Starts the tick (on the transport's thread).
  void start();
  // Thread-safe: the state of `log` as etcd holds it; the first one for a
  // log that names this broker a replica creates its replica.
  void set_state(const std::string& log, const PartitionState& state);
  // Thread-safe: the leader appends `payload` to `log`; `done` runs on the
  // transport's thread with its offset once confirmed, or an error. A log
  // with no state yet waits for one (its creation) up to `wait_ms`.
  void append(const std::string& log, std::string payload, Done done, std::int64_t wait_ms = 5'000);

  // On the transport's thread.
  void on_message(WireMessage m);
  struct ReplicaStatus {
    std::string log;
    Replica::Role role;
    PartitionState state;
    LogOffset high_watermark;
    LogOffset log_end;
    LogOffset applied;
  };
  // Thread-safe: each replica as of the last tick.
  std::vector<ReplicaStatus> status() const;
  // On the transport's thread.
  const Replica* replica(const std::string& log) const;

  static constexpr std::int64_t kTickMs = 20;
  static constexpr std::int64_t kLongPollMs = 200;  // below the follower's fetch timeout
  static constexpr std::int64_t kConfirmTimeoutMs = 15'000;

 private:
  struct Entry;
  struct Waiting {  // an append not yet confirmed
    LeaderEpoch epoch;
    LogOffset offset;
    std::int64_t deadline_ms;
    Done done;
  };
  struct Early {  // an append to a log whose state is not known yet
    std::string payload;
    std::int64_t deadline_ms;
    Done done;
  };
  void tick();
  Entry& entry(const std::string& log);
  void do_append(Entry& e, std::string payload, Done done);
  // After anything that may move the commit point or the log's end:
  // applies, answers, and releases parked fetches.
  void settle(Entry& e);

  NodeId self_;
  ReplicaOptions options_;
  ReplicationTransport& transport_;
  Callbacks callbacks_;
  std::function<std::int64_t()> clock_;
  boost::asio::steady_timer timer_;
  std::map<std::string, std::unique_ptr<Entry>> logs_;
  std::map<std::string, std::deque<Early>> early_;
  mutable std::mutex status_mutex_;
  std::vector<ReplicaStatus> status_;  // GUARDED_BY(status_mutex_)
};

}  // namespace ferry::cluster
