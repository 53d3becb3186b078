#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>

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
//
// Each priority's deque exists only while it is needed: an empty
// std::deque still holds a 64-byte map and a 512-byte chunk, so ten of them
// made an idle queue cost ~6 KB (issue 18 item 9). A bucket is made on its
// first message and freed by trim() (the owner's housekeeping) once empty,
// not the moment it empties, so a queue that keeps going 0 -> 1 -> 0
// messages does not allocate per message.
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
  // Body bytes of the entries (x-max-length-bytes).
  std::uint64_t bytes() const { return bytes_; }
  // Frees the empty buckets. Returns how many it freed.
  std::size_t trim();
  // Buckets allocated now (0 for a list that never held a message or was
  // trimmed empty).
  std::size_t buckets() const;

  // Removes every entry for which `pred(entry)` is true, calling `sink` on it.
  template <typename Pred, typename Sink>
  void remove_if(Pred pred, Sink sink) {
    for (auto& b : buckets_) {
      if (!b) continue;
      Bucket& bucket = *b;
      for (auto it = bucket.begin(); it != bucket.end();) {
        if (pred(*it)) {
          bytes_ -= it->message->body.size();
          sink(*it);
          it = bucket.erase(it);
          --size_;
        } else {
          ++it;
        }
      }
    }
  }

  // What extract()'s `pick` says of one entry.
  enum class Pick : std::uint8_t { kKeep, kTake, kStop };
  // Walks the entries in delivery order (as pop() would give them); each
  // one `pick` takes is moved into `sink(QueueEntry&&)` and leaves the list,
  // the others keep their places. kStop ends the walk (that entry stays).
  // `pick` and `sink` must not touch this list. Removing from the middle
  // closes the gap once per bucket, by moving the shorter side.
  template <typename PickFn, typename Sink>
  void extract(PickFn pick, Sink sink) {
    for (int p = kPriorities - 1; p >= 0; --p) {
      if (!buckets_[p]) continue;
      Bucket& b = *buckets_[p];
      std::size_t w = 0, r = 0;
      bool stop = false;
      for (; r < b.size(); ++r) {
        const Pick what = pick(static_cast<const QueueEntry&>(b[r]));
        if (what == Pick::kStop) {
          stop = true;
          break;
        }
        if (what == Pick::kTake) {
          bytes_ -= b[r].message->body.size();
          sink(std::move(b[r]));
          --size_;
        } else if (w != r) {
          b[w++] = std::move(b[r]);
        } else {
          ++w;
        }
      }
      // [w, r) are moved-from: taken, or their contents moved before w.
      if (w != r) b.erase(b.begin() + static_cast<std::ptrdiff_t>(w), b.begin() + static_cast<std::ptrdiff_t>(r));
      if (stop) return;
    }
  }

  template <typename Fn>
  void for_each_mut(Fn fn) {
    for (int p = kPriorities - 1; p >= 0; --p)
      if (buckets_[p])
        for (auto& e : *buckets_[p]) fn(e);
  }

  template <typename Fn>
  void for_each(Fn fn) const {
    for (int p = kPriorities - 1; p >= 0; --p)
      if (buckets_[p])
        for (const auto& e : *buckets_[p]) fn(e);
  }

 private:
  using Bucket = std::deque<QueueEntry, RecyclingAllocator<QueueEntry>>;
  int top() const;
  Bucket& bucket(int p);
  std::array<std::unique_ptr<Bucket>, kPriorities> buckets_;
  std::size_t size_ = 0;
  std::uint64_t bytes_ = 0;
};

}  // namespace ferry::broker
