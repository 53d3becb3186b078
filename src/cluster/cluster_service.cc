#include "cluster/cluster_service.h"

#include <chrono>

namespace ferry::cluster {

ClusterService::ClusterService(std::unique_ptr<Coordinator> store, ClusterOptions options, MemberInfo self,
                               std::function<std::int64_t()> clock)
    : store_(std::move(store)),
      options_(options),
      clock_(std::move(clock)),
      membership_(*store_, std::move(options), std::move(self)) {
  view_ = membership_.view();
}

ClusterService::~ClusterService() { stop(); }

void ClusterService::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void ClusterService::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  membership_.leave();
  std::lock_guard lock(mutex_);
  view_ = membership_.view();
}

ClusterView ClusterService::view() const {
  ClusterView v;
  {
    std::lock_guard lock(mutex_);
    v = view_;
  }
  // The thread may be inside a call to etcd past the lease's deadline (a
  // silent endpoint): the copy says what is provable now, not at the last
  // step.
  if (v.lease.value != 0 && clock_() >= v.lease_valid_until_ms &&
      (v.coordination == Coordination::kOk || v.coordination == Coordination::kRenewing)) {
    v.coordination = Coordination::kLost;
    v.is_controller = false;
    v.controller.clear();
  }
  return v;
}

void ClusterService::run() {
  for (;;) {
    const std::int64_t delay = membership_.step(clock_());
    std::unique_lock lock(mutex_);
    view_ = membership_.view();
    if (wake_.wait_for(lock, std::chrono::milliseconds(delay), [this] { return stopping_; })) return;
  }
}

}  // namespace ferry::cluster
