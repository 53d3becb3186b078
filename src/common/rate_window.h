#pragma once

#include <array>
#include <cstdint>

namespace ferry {

// A per-second rate of a growing counter, averaged over the last five
// seconds: the owner calls sample(total, now) about once a second and reads
// per_second() whenever it likes. Not thread-safe; it lives with the counter
// (on the counter's shard).
class RateWindow {
 public:
  static constexpr std::int64_t kWindowMs = 5000;

  void sample(std::uint64_t total, std::int64_t now_ms) {
    head_ = (head_ + 1) % kSlots;
    slots_[head_] = Slot{total, now_ms};
    if (filled_ < kSlots) ++filled_;
  }

  // 0 until two samples exist. Uses the oldest sample at most kWindowMs old
  // (or the oldest kept, when samples came slower than once a second).
  double per_second() const {
    if (filled_ < 2) return 0.0;
    const Slot& now = slots_[head_];
    const Slot* from = nullptr;
    for (std::size_t back = filled_ - 1; back >= 1; --back) {
      const Slot& s = slots_[(head_ + kSlots - back) % kSlots];
      if (now.ms - s.ms <= kWindowMs + 500 || back == 1) {
        from = &s;
        break;
      }
    }
    if (from == nullptr || now.ms <= from->ms || now.total < from->total) return 0.0;
    return static_cast<double>(now.total - from->total) * 1000.0 /
           static_cast<double>(now.ms - from->ms);
  }

 private:
  static constexpr std::size_t kSlots = 6;  // 5 intervals of ~1 s
  struct Slot {
    std::uint64_t total = 0;
    std::int64_t ms = 0;
  };
  std::array<Slot, kSlots> slots_{};
  std::size_t head_ = 0;
  std::size_t filled_ = 0;
};

}  // namespace ferry
