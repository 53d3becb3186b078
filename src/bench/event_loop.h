#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <thread>
#include <utility>

namespace ferry::bench {

// One thread running one io_context. Every object created for a loop
// (connections, producers, consumers) is touched only from its thread after
// start; the main thread talks to it by post() and reads atomics.
class EventLoop {
 public:
  EventLoop();
  ~EventLoop();  // stop() and join
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  boost::asio::io_context& io() { return io_; }

  template <typename F>
  void post(F&& f) {
    boost::asio::post(io_, std::forward<F>(f));
  }

  // Stops the loop and joins its thread. Handlers not yet run are dropped.
  void stop();

 private:
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace ferry::bench
