#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/recycling_allocator.h"
#include "common/strong_id.h"

namespace ferry::session {

// The order a client is answered in. Every frame starts an operation that
// completes after some number of broker answers (0: at once); an
// operation's RECEIPT is written only when it and every earlier one are
// complete, so RECEIPTs come in frame order. Also the producer window:
// the bytes of SENDs whose destinations have not answered yet.
//
// Owned by its session; runs on the session's shard.
class Receipts {
 public:
  // What the session does when an operation's turn comes, and with the
  // producer window.
  class Listener {
   public:
    virtual ~Listener() = default;
    // In operation order. `receipt` empty: none asked for. `subscribed`:
    // a SUBSCRIBE, whose deliveries waited for its RECEIPT. `disconnect`:
    // a DISCONNECT (or end of input): nothing is answered after it.
    virtual void on_answer(std::string_view receipt, SubscriptionNo subscribed, bool disconnect) = 0;
    // Past the producer window reading pauses; below half of it, resumes.
    virtual void on_window(bool pause) = 0;
  };

  Receipts(Listener& listener, std::uint64_t producer_window) : listener_(listener), window_(producer_window) {}

  // Starts an operation that completes after `remaining` broker answers,
  // charging `bytes` to the producer window until then. Returns its number
  // (never 0: the number of an operation nobody waits for).
  std::uint64_t begin(std::optional<std::string_view> receipt, std::uint32_t remaining,
                      std::uint64_t bytes = 0, bool disconnect = false,
                      SubscriptionNo subscribed = SubscriptionNo(0));
  // `op` (not complete yet) waits for `more` answers than it began with.
  void expect(std::uint64_t op, std::uint32_t more);
  // One broker answer for `op`. True when it was the last one it waited
  // for (the caller may chain work on it before drain()).
  bool complete(std::uint64_t op);
  // Answers the complete operations at the front, in order; stops after a
  // disconnect.
  void drain();
  // The receipt an operation still waiting asked for.
  std::optional<std::string_view> receipt_of(std::uint64_t op) const;
  // The connection is gone: nothing more is answered.
  void clear() { pending_.clear(); }

 private:
  struct Pending {
    std::uint64_t op = 0;
    std::uint32_t remaining = 0;   // broker answers still expected
    std::string receipt;           // empty: none asked for
    std::uint64_t bytes = 0;       // producer window charge
    bool disconnect = false;
    SubscriptionNo subscribed{0};
  };

  Listener& listener_;
  const std::uint64_t window_;
  std::uint64_t next_op_ = 1;
  std::deque<Pending, RecyclingAllocator<Pending>> pending_;  // in order; front is the oldest
  // Receipt ids of answered ops, emptied, for the next ops to fill (clients
  // name receipts with a counter or a UUID, mostly past the 15 characters
  // std::string keeps inline). At most kSpareReceipts of kMaxSpareReceipt.
  static constexpr std::size_t kSpareReceipts = 256;
  static constexpr std::size_t kMaxSpareReceipt = 128;
  std::vector<std::string> spare_receipts_;
  std::uint64_t in_flight_bytes_ = 0;
  bool paused_ = false;
};

}  // namespace ferry::session
