#pragma once

#include <array>
#include <cstdint>
#include <deque>

#include "broker/message.h"
#include "common/recycling_allocator.h"

namespace ferry::broker {

// A message waiting in a queue, with what the queue knows about it.
struct QueueEntry {
  MessageRef message;
  std::uint64_t order = 0;        // enqueue position: FIFO within a priority
  std::uint32_t deliveries = 0;   // how often it was handed out so far
  std::uint64_t segment = 0;      // journal segment of its record; 0 = not journaled
  std::uint64_t stamp = 0;        // journal order stamp (see message_codec.h)
};

// The messages of one queue that wait for a consumer: highest priority first,
// then enqueue order. A message returned by a consumer goes back to its
// original place, so redelivery keeps the producer's order.
// Owned by its Queue; single-shard.
class ReadyList {
 public:
  static constexpr int kPriorities = 10;

  void push(QueueEntry e);       // fresh message: larger order than any before
  void put_back(QueueEntry e);   // returned message: sorted in by `order`
  QueueEntry pop();              // requires !empty()
  const QueueEntry& front() const;

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  // Removes every entry for which `pred(entry)` is true, calling `sink` on it.
  template <typename Pred, typename Sink>
  void remove_if(Pred pred, Sink sink) {
    for (auto& bucket : buckets_) {
      for (auto it = bucket.begin(); it != bucket.end();) {
        if (pred(*it)) {
          sink(*it);
          it = bucket.erase(it);
          --size_;
        } else {
          ++it;
        }
      }
    }
  }

  template <typename Fn>
  void for_each_mut(Fn fn) {
    for (int p = kPriorities - 1; p >= 0; --p)
      for (auto& e : buckets_[p]) fn(e);
  }

  template <typename Fn>
  void for_each(Fn fn) const {
    for (int p = kPriorities - 1; p >= 0; --p)
      for (const auto& e : buckets_[p]) fn(e);
  }

 private:
  int top() const;
  std::array<std::deque<QueueEntry, RecyclingAllocator<QueueEntry>>, kPriorities> buckets_;
  std::size_t size_ = 0;
};

}  // namespace ferry::broker
