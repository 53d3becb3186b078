#include "shard/shard_set.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

namespace ferry::shard {

namespace {
thread_local ShardId t_current{0};
}

ShardSet::ShardSet(std::uint32_t count) {
  for (std::uint32_t i = 0; i < count; ++i) shards_.push_back(std::make_unique<Shard>());
}

ShardSet::~ShardSet() {
  stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

ShardId ShardSet::current() { return t_current; }

void ShardSet::post(ShardId target, std::function<void()> task) {
  boost::asio::post(shards_[target.value]->io, std::move(task));
}

void ShardSet::on_tick(std::int64_t period_ms, std::function<void(ShardId)> fn) {
  tick_period_ms_ = period_ms;
  tick_ = std::move(fn);
}

void ShardSet::arm_tick(ShardId s) {
  auto& t = *shards_[s.value]->ticker;
  t.expires_after(std::chrono::milliseconds(tick_period_ms_));
  t.async_wait([this, s](const boost::system::error_code& ec) {
    if (ec) return;
    if (tick_) tick_(s);
    arm_tick(s);
  });
}

void ShardSet::run() {
  for (std::uint32_t i = 0; i < shards_.size(); ++i) {
    shards_[i]->ticker = std::make_unique<boost::asio::steady_timer>(shards_[i]->io);
    arm_tick(ShardId(i));
  }
  for (std::uint32_t i = 1; i < shards_.size(); ++i) {
    threads_.emplace_back([this, i] {
      t_current = ShardId(i);
      auto guard = boost::asio::make_work_guard(shards_[i]->io);
      shards_[i]->io.run();
    });
  }
  t_current = ShardId(0);
  auto guard = boost::asio::make_work_guard(shards_[0]->io);
  shards_[0]->io.run();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void ShardSet::stop() {
  for (auto& s : shards_) s->io.stop();
}

}  // namespace ferry::shard
