#include "bench/event_loop.h"

namespace ferry::bench {

EventLoop::EventLoop() : work_(boost::asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}

EventLoop::~EventLoop() { stop(); }

void EventLoop::stop() {
  work_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ferry::bench
