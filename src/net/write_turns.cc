#include "net/write_turns.h"

#include <algorithm>
#include <utility>

namespace ferry::net {

void WriteTurns::add(std::shared_ptr<Writer> w) {
  waiting_.push_back(std::move(w));
  schedule();
}

void WriteTurns::schedule() {
  if (posted_ || waiting_.empty()) return;
  posted_ = true;
  // The posted handler holds this object (a Server stopped before its loop
  // finishes leaves the turn harmless). It is made by post_, not here: a
  // std::function holding a shared_ptr does not fit its inline buffer, and
  // every turn, one per delivery at a steady rate, would allocate.
  post_(shared_from_this());
}

void WriteTurns::posted_turn() {
  posted_ = false;
  run_turn();
}

void WriteTurns::run_turn() {
  ++turns_;
  // Only the writers waiting when the turn began, at most per_turn_ of
  // them: one added by a write below (a completion that found more output)
  // waits for the next turn, behind the others.
  std::size_t n = std::min(per_turn_, waiting_.size());
  while (n-- > 0) {
    std::shared_ptr<Writer> w = std::move(waiting_.front());
    waiting_.pop_front();
    w->write_turn();
  }
  schedule();
}

}  // namespace ferry::net
