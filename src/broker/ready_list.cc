#include "broker/ready_list.h"

#include <algorithm>

#include "common/assert.h"

namespace ferry::broker {

namespace {
int bucket_of(const QueueEntry& e) { return std::min<int>(e.message->priority, ReadyList::kPriorities - 1); }
}  // namespace

ReadyList::Bucket& ReadyList::bucket(int p) {
  if (!buckets_[p]) buckets_[p] = std::make_unique<Bucket>();
  return *buckets_[p];
}

std::size_t ReadyList::trim() {
  std::size_t n = 0;
  for (auto& b : buckets_) {
    if (b && b->empty()) {
      b.reset();
      ++n;
    }
  }
  return n;
}

std::size_t ReadyList::buckets() const {
  return static_cast<std::size_t>(std::count_if(buckets_.begin(), buckets_.end(), [](const auto& b) { return b != nullptr; }));
}

void ReadyList::push(QueueEntry e) {
  auto& b = bucket(bucket_of(e));
  FERRY_ASSERT(b.empty() || b.back().order < e.order);
  bytes_ += e.message->body.size();
  b.push_back(std::move(e));
  ++size_;
}

void ReadyList::put_back(QueueEntry e) {
  auto& b = bucket(bucket_of(e));
  auto it = std::lower_bound(b.begin(), b.end(), e.order,
                             [](const QueueEntry& x, std::uint64_t o) { return x.order < o; });
  bytes_ += e.message->body.size();
  b.insert(it, std::move(e));
  ++size_;
}

int ReadyList::top() const {
  for (int p = kPriorities - 1; p >= 0; --p)
    if (buckets_[p] && !buckets_[p]->empty()) return p;
  return -1;
}

const QueueEntry& ReadyList::front() const {
  int p = top();
  FERRY_ASSERT(p >= 0);
  return buckets_[p]->front();
}

QueueEntry ReadyList::pop() {
  int p = top();
  FERRY_ASSERT(p >= 0);
  QueueEntry e = std::move(buckets_[p]->front());
  buckets_[p]->pop_front();
  --size_;
  bytes_ -= e.message->body.size();
  return e;
}

}  // namespace ferry::broker
