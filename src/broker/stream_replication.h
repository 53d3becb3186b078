#pragma once

#include <functional>
#include <string>

#include "broker/destination.h"
#include "common/result.h"
#include "stream/entry.h"

namespace ferry::broker {

// How a stream's SENDs reach a cluster's replicated log (docs/cluster.md,
// "Replicated streams"), seen from the broker, which knows no cluster: the
// app wires it to cluster::ClusterService. Without it (a single broker, no
// cluster-listen) streams are written locally, as always.
//
// A replicated stream is written only through its log: the leader's SEND
// appends there, and every replica (the leader too) writes the entries the
// log has committed into its local stream with Broker::apply_replicated(),
// in log order, so the local stream's offsets are the log's. Its SEND is
// answered (RECEIPT) once the in-sync set has the entry, or with the
// error (led elsewhere, below min-insync).
class StreamReplication {
 public:
  virtual ~StreamReplication() = default;
  // Whether SENDs to `d` go through a replicated log. Any shard.
  virtual bool replicated(const Destination& d) const = 0;
  // The leader's append of `e` to `d`'s log. `done` may run on any thread:
  // ok once confirmed, else the error to answer.
  virtual void append(const Destination& d, const stream::StreamEntry& e, std::function<void(Status)> done) = 0;
};

}  // namespace ferry::broker
