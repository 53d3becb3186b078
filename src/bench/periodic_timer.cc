#include "bench/periodic_timer.h"

#include "bench/clock.h"

namespace ferry::bench {

PeriodicTimer::PeriodicTimer(boost::asio::io_context& io, std::chrono::nanoseconds period,
                             std::function<void(std::int64_t)> fn)
    : timer_(io), period_(period), fn_(std::move(fn)) {}

void PeriodicTimer::start() {
  cancelled_ = false;
  next_ = std::chrono::steady_clock::now() + period_;
  arm();
}

void PeriodicTimer::arm() {
  timer_.expires_at(next_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || cancelled_) return;
    next_ += period_;
    fn_(now_ns());
    if (!cancelled_) arm();
  });
}

void PeriodicTimer::cancel() {
  cancelled_ = true;
  timer_.cancel();
}

}  // namespace ferry::bench
