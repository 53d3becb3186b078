#include "bench/receive_tally.h"

namespace ferry::bench {

ReceiveTally::ReceiveTally(const Options& options, const Payload& payload, RunState& run)
    : payload_(payload), run_(run), per_consumer_(options.is_topic()), consumers_(options.consumers),
      producers_(options.producers),
      next_seq_(static_cast<std::size_t>(options.consumers) * static_cast<std::size_t>(options.producers), 0) {
  const int n = per_consumer_ ? options.consumers : 1;
  trackers_.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) trackers_.emplace_back(options.producers);
}

void ReceiveTally::record(int consumer, std::string_view body, std::int64_t now) {
  if (first_ns_ == 0) first_ns_ = now;
  last_ns_ = now;
  Stamp stamp;
  switch (payload_.check(body, stamp)) {
    case Payload::Check::kOk: break;
    case Payload::Check::kForeign: ++foreign_; return;
    default: ++corrupt_; return;
  }
  if (stamp.producer >= static_cast<std::uint32_t>(run_.producers()) ||
      stamp.seq >= run_.sent(static_cast<int>(stamp.producer)).load(std::memory_order_acquire)) {
    ++corrupt_;  // well-formed, but no producer of this run sent it
    return;
  }
  ++received_;
  std::uint64_t& next = next_seq_[static_cast<std::size_t>(consumer) * static_cast<std::size_t>(producers_) + stamp.producer];
  if (stamp.seq < next) ++out_of_order_;
  else next = stamp.seq + 1;
  SequenceTracker& t = trackers_[per_consumer_ ? static_cast<std::size_t>(consumer) : 0];
  if (t.record(stamp.producer, stamp.seq) == SequenceTracker::Seen::kFirst) {
    // The main thread watches this to end the drain as soon as all arrived.
    run_.distinct_received.store(++distinct_, std::memory_order_relaxed);
  }
  latency_.record(now - stamp.sent_ns);
}

std::uint64_t ReceiveTally::expected_for(std::uint64_t sent) const {
  if (consumers_ == 0) return 0;  // nobody listens: nothing is expected
  return sent * trackers_.size();
}

std::uint64_t ReceiveTally::distinct() const { return distinct_; }

std::uint64_t ReceiveTally::duplicates() const {
  std::uint64_t n = 0;
  for (const auto& t : trackers_) n += t.duplicates();
  return n;
}


}  // namespace ferry::bench
