#include "bench/run_state.h"

namespace ferry::bench {

RunState::RunState(int producers)
    : producers_(producers), sent_(std::make_unique<Padded[]>(static_cast<std::size_t>(producers))) {}

std::uint64_t RunState::sent_total() const {
  std::uint64_t total = 0;
  for (int p = 0; p < producers_; ++p) total += sent_[static_cast<std::size_t>(p)].value.load(std::memory_order_acquire);
  return total;
}

void RunState::note_error(const std::string& text) {
  std::lock_guard lock(mutex_);
  if (first_error_.empty()) first_error_ = text;
}

std::string RunState::first_error() const {
  std::lock_guard lock(mutex_);
  return first_error_;
}

}  // namespace ferry::bench
