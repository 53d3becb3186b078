#include "session/receipts.h"

#include <algorithm>

#include "common/assert.h"

namespace ferry::session {

std::uint64_t Receipts::begin(std::optional<std::string_view> receipt, std::uint32_t remaining,
                              std::uint64_t bytes, bool disconnect, SubscriptionNo subscribed) {
  const std::uint64_t op = next_op_++;
  if (remaining == 0 && pending_.empty()) {
    // Nothing earlier outstanding: answer at once.
    listener_.on_answer(receipt.value_or(std::string_view()), subscribed, disconnect);
    return op;
  }
  Pending p;
  p.op = op;
  p.remaining = remaining;
  if (receipt) {
    if (!spare_receipts_.empty()) {
      p.receipt = std::move(spare_receipts_.back());
      spare_receipts_.pop_back();
    }
    p.receipt.assign(*receipt);
  }
  p.bytes = bytes;
  p.disconnect = disconnect;
  p.subscribed = subscribed;
  pending_.push_back(std::move(p));
  in_flight_bytes_ += bytes;
  if (!paused_ && in_flight_bytes_ > window_) {
    paused_ = true;
    listener_.on_window(true);
  }
  return op;
}

void Receipts::expect(std::uint64_t op, std::uint32_t more) {
  auto it = std::lower_bound(pending_.begin(), pending_.end(), op,
                             [](const Pending& p, std::uint64_t o) { return p.op < o; });
  FERRY_ASSERT(it != pending_.end() && it->op == op && it->remaining > 0);
  it->remaining += more;
}

bool Receipts::complete(std::uint64_t op) {
  FERRY_ASSERT(!pending_.empty() && op >= pending_.front().op);
  // Ops are numbered consecutively, but ops answered at once are not queued,
  // so search from the front (the oldest are the likeliest to complete).
  auto it = std::lower_bound(pending_.begin(), pending_.end(), op,
                             [](const Pending& p, std::uint64_t o) { return p.op < o; });
  FERRY_ASSERT(it != pending_.end() && it->op == op && it->remaining > 0);
  if (--it->remaining != 0) return false;
  in_flight_bytes_ -= it->bytes;
  it->bytes = 0;
  return true;
}

void Receipts::drain() {
  while (!pending_.empty() && pending_.front().remaining == 0) {
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    listener_.on_answer(p.receipt, p.subscribed, p.disconnect);
    if (!p.receipt.empty() && spare_receipts_.size() < kSpareReceipts &&
        p.receipt.capacity() <= kMaxSpareReceipt) {
      p.receipt.clear();
      spare_receipts_.push_back(std::move(p.receipt));
    }
    if (p.disconnect) return;
  }
  if (paused_ && in_flight_bytes_ <= window_ / 2) {
    paused_ = false;
    listener_.on_window(false);
  }
}

std::optional<std::string_view> Receipts::receipt_of(std::uint64_t op) const {
  for (const Pending& p : pending_)
    if (p.op == op && !p.receipt.empty()) return p.receipt;
  return std::nullopt;
}

}  // namespace ferry::session
