#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "broker/executor.h"
#include "common/handler_memory.h"

namespace ferry::shard {

// One event loop per core. Every shard runs its own io_context on its own
// thread; objects belong to exactly one shard and other shards reach them
// only by posting tasks (Executor::post), never through a shared lock.
//
// Cross-shard tasks are batched: a shard collects what it posts to each
// other shard during one turn of its loop in an outbox, and hands the whole
// batch over at the end of the turn (one lock, and at most one wake-up of
// the target per batch). The target runs a batch in order, so tasks from one
// sender run in the order they were posted. Threads that are not shards
// (the journal's I/O thread, start-up) hand tasks over one by one.
class ShardSet final : public broker::Executor {
 public:
  explicit ShardSet(std::uint32_t count);
  ~ShardSet() override;

  // broker::Executor
  void post(ShardId target, Task task) override;
  std::uint32_t shard_count() const override { return static_cast<std::uint32_t>(shards_.size()); }

  boost::asio::io_context& io(ShardId s) { return shards_[s.value]->io; }

  // `fn(shard, now)` runs on every shard every `period_ms` once started.
  void on_tick(std::int64_t period_ms, std::function<void(ShardId)> fn);

  // Starts one thread per shard; shard 0 runs on the calling thread inside
  // run() until stop() is called (from a signal handler task or any shard).
  void run();
  void stop();

  // The shard the calling thread runs (only valid on shard threads).
  static ShardId current();
  static bool on_shard_thread();

 private:
  struct Shard {
    boost::asio::io_context io{1};
    std::unique_ptr<boost::asio::steady_timer> ticker;
    // Written by this shard only: tasks it posted to itself, run in one
    // handler after the ones already queued (one handler per batch instead
    // of an event-loop operation per task).
    std::vector<Task> local;
    bool local_posted = false;
    // Each of the three wake-ups (run_local, flush, drain) is posted at
    // most once at a time: its event-loop operation lives here.
    HandlerMemory local_memory;
    HandlerMemory flush_memory;
    HandlerMemory drain_memory;
    // Written by this shard only: tasks for each other shard, this turn.
    std::vector<std::vector<Task>> outbox;
    bool flush_posted = false;
    // Handed over by other threads; run by this shard's drain().
    std::mutex inbox_mutex;
    std::vector<Task> inbox;
    bool drain_posted = false;
  };
  void arm_tick(ShardId s);
  void flush(ShardId from);
  void hand_over(ShardId target, std::vector<Task>& tasks);
  void hand_over(ShardId target, Task task);
  void drain(ShardId target);
  void run_local(ShardId self);

  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::thread> threads_;
  std::int64_t tick_period_ms_ = 100;
  std::function<void(ShardId)> tick_;
};

}  // namespace ferry::shard
