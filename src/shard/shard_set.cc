#include "shard/shard_set.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <utility>

namespace ferry::shard {

namespace {
thread_local ShardId t_current{0};
thread_local bool t_on_shard = false;
}

ShardSet::ShardSet(std::uint32_t count) {
  for (std::uint32_t i = 0; i < count; ++i) {
    shards_.push_back(std::make_unique<Shard>());
    shards_.back()->outbox.resize(count);
  }
}

ShardSet::~ShardSet() {
  stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

ShardId ShardSet::current() { return t_current; }
bool ShardSet::on_shard_thread() { return t_on_shard; }

void ShardSet::post(ShardId target, Task task) {
  if (!t_on_shard) {
    hand_over(target, std::move(task));
    return;
  }
  const ShardId from = t_current;
  Shard& self = *shards_[from.value];
  if (from == target) {
    self.local.push_back(std::move(task));
    if (!self.local_posted) {
      self.local_posted = true;
      boost::asio::post(self.io, with_memory(self.local_memory, [this, from] { run_local(from); }));
    }
    return;
  }
  self.outbox[target.value].push_back(std::move(task));
  if (!self.flush_posted) {
    self.flush_posted = true;
    // Runs after the handlers already queued on this loop: the end of the turn.
    boost::asio::post(self.io, with_memory(self.flush_memory, [this, from] { flush(from); }));
  }
}

void ShardSet::flush(ShardId from) {
  Shard& self = *shards_[from.value];
  self.flush_posted = false;
  for (std::uint32_t t = 0; t < self.outbox.size(); ++t) {
    if (!self.outbox[t].empty()) hand_over(ShardId(t), self.outbox[t]);
  }
}

void ShardSet::hand_over(ShardId target, std::vector<Task>& tasks) {
  Shard& s = *shards_[target.value];
  bool wake = false;
  {
    std::lock_guard lk(s.inbox_mutex);
    if (s.inbox.empty()) {
      s.inbox.swap(tasks);
    } else {
      for (auto& t : tasks) s.inbox.push_back(std::move(t));
    }
    wake = !std::exchange(s.drain_posted, true);
  }
  tasks.clear();
  if (wake) boost::asio::post(s.io, with_memory(s.drain_memory, [this, target] { drain(target); }));
}

void ShardSet::hand_over(ShardId target, Task task) {
  Shard& s = *shards_[target.value];
  bool wake = false;
  {
    std::lock_guard lk(s.inbox_mutex);
    s.inbox.push_back(std::move(task));
    wake = !std::exchange(s.drain_posted, true);
  }
  if (wake) boost::asio::post(s.io, with_memory(s.drain_memory, [this, target] { drain(target); }));
}

void ShardSet::run_local(ShardId self) {
  Shard& s = *shards_[self.value];
  // Tasks these tasks post to this shard form the next batch.
  thread_local std::vector<Task> running;
  running.swap(s.local);
  s.local_posted = false;
  for (auto& t : running) t();
  running.clear();
}

void ShardSet::drain(ShardId target) {
  Shard& s = *shards_[target.value];
  thread_local std::vector<Task> running;
  {
    std::lock_guard lk(s.inbox_mutex);
    running.swap(s.inbox);
    s.drain_posted = false;
  }
  for (auto& t : running) t();
  running.clear();
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
      t_on_shard = true;
      auto guard = boost::asio::make_work_guard(shards_[i]->io);
      shards_[i]->io.run();
    });
  }
  t_current = ShardId(0);
  t_on_shard = true;
  auto guard = boost::asio::make_work_guard(shards_[0]->io);
  shards_[0]->io.run();
  t_on_shard = false;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void ShardSet::stop() {
  for (auto& s : shards_) s->io.stop();
}

}  // namespace ferry::shard
