#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>

namespace ferry::bench {

// Calls `fn(now_ns)` every `period` on the loop that owns `io`, at fixed
// times from the first start() (no drift), until cancel() or the loop stops.
// Used for heart-beat ticks and the once-a-second stall check. Loop thread only.
class PeriodicTimer {
 public:
  PeriodicTimer(boost::asio::io_context& io, std::chrono::nanoseconds period,
                std::function<void(std::int64_t)> fn);
  void start();
  void cancel();

 private:
  void arm();
  boost::asio::steady_timer timer_;
  std::chrono::nanoseconds period_;
  std::function<void(std::int64_t)> fn_;
  std::chrono::steady_clock::time_point next_;
  bool cancelled_ = false;
};

}  // namespace ferry::bench
