#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace ferry::bench {

// What the producer thread, the consumer thread and the main thread of one
// load run share. Counters are atomics written by one thread each; the
// first ERROR text is kept under a mutex (it happens at most a few times).
class RunState {
 public:
  explicit RunState(int producers);

  int producers() const { return producers_; }

  // Messages producer `p` has encoded (its next sequence number). The
  // producer thread stores with release; consumers load with acquire to
  // refuse sequence numbers that were never sent.
  std::atomic<std::uint64_t>& sent(int p) { return sent_[static_cast<std::size_t>(p)].value; }
  std::uint64_t sent_total() const;

  std::atomic<int> consumers_ready{0};     // subscribed (RECEIPT seen)
  std::atomic<int> producers_ready{0};     // connected
  std::atomic<int> producers_finished{0};  // done sending (and confirming)
  std::atomic<int> setup_failures{0};      // connections that failed before the run began
  std::atomic<std::uint64_t> distinct_received{0};  // published by the consumer thread
  std::atomic<std::uint64_t> error_frames{0};
  std::atomic<std::uint64_t> connections_lost{0};   // closed by the broker during the run
  std::atomic<int> consumers_closed{0};  // for any reason: none left means nothing more can arrive

  // Keeps the first ERROR text (or lost-connection reason); later ones only count.
  void note_error(const std::string& text);
  std::string first_error() const;

 private:
  struct alignas(64) Padded {
    std::atomic<std::uint64_t> value{0};
  };
  int producers_;
  std::unique_ptr<Padded[]> sent_;
  mutable std::mutex mutex_;
  std::string first_error_;  // GUARDED_BY(mutex_)
};

}  // namespace ferry::bench
