#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "broker/executor.h"

namespace ferry::shard {

// One event loop per core. Every shard runs its own io_context on its own
// thread; objects belong to exactly one shard and other shards reach them
// only by posting tasks (Executor::post), never through a shared lock.
//
// Cross-shard tasks go through asio's per-loop queue, which keeps per-sender
// order. (A batched single-producer ring per shard pair is the planned
// replacement once profiles show the queue's lock on the hot path.)
class ShardSet final : public broker::Executor {
 public:
  explicit ShardSet(std::uint32_t count);
  ~ShardSet() override;

  // broker::Executor
  void post(ShardId target, std::function<void()> task) override;
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

 private:
  struct Shard {
    boost::asio::io_context io{1};
    std::unique_ptr<boost::asio::steady_timer> ticker;
  };
  void arm_tick(ShardId s);

  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::thread> threads_;
  std::int64_t tick_period_ms_ = 100;
  std::function<void(ShardId)> tick_;
};

}  // namespace ferry::shard
