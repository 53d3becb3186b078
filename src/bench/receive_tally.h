#pragma once

#include <cstdint>
#include <vector>

#include "bench/latency_histogram.h"
#include "bench/options.h"
#include "bench/payload.h"
#include "bench/run_state.h"
#include "bench/sequence_tracker.h"

namespace ferry::bench {

// Everything the consumers of one run have received, on the consumer loop.
// A queue has one SequenceTracker for all its consumers (each message must
// reach one of them); a topic has one per consumer (each must get every
// message). Bodies are checked against the Payload and against what the
// producers say they sent, so a sequence number never sent is corrupt.
class ReceiveTally {
 public:
  ReceiveTally(const Options& options, const Payload& payload, RunState& run);

  // One MESSAGE body arriving at consumer `consumer` at `now`.
  void record(int consumer, std::string_view body, std::int64_t now);

  // Deliveries the consumers must see in total when the producers sent
  // `sent` messages: sent, or sent x consumers for a topic.
  std::uint64_t expected_for(std::uint64_t sent) const;

  std::uint64_t received() const { return received_; }  // valid bodies, duplicates included
  std::uint64_t distinct() const;                        // first arrivals
  std::uint64_t duplicates() const;
  // Arrivals at one consumer with a lower sequence number than an earlier
  // arrival there from the same producer: each consumer should see each
  // producer's messages in the order sent (redeliveries aside).
  std::uint64_t out_of_order() const { return out_of_order_; }
  std::uint64_t corrupt() const { return corrupt_; }
  std::uint64_t foreign() const { return foreign_; }
  std::int64_t first_ns() const { return first_ns_; }
  std::int64_t last_ns() const { return last_ns_; }
  const LatencyHistogram& latency() const { return latency_; }

 private:
  const Payload& payload_;
  RunState& run_;
  bool per_consumer_;
  int consumers_;
  int producers_;
  std::vector<SequenceTracker> trackers_;
  LatencyHistogram latency_;
  std::vector<std::uint64_t> next_seq_;  // [consumer * producers + producer]: highest seq seen + 1
  std::uint64_t out_of_order_ = 0;
  std::uint64_t received_ = 0;
  std::uint64_t distinct_ = 0;  // sum over trackers, kept as we go
  std::uint64_t corrupt_ = 0;
  std::uint64_t foreign_ = 0;
  std::int64_t first_ns_ = 0;
  std::int64_t last_ns_ = 0;
};

}  // namespace ferry::bench
