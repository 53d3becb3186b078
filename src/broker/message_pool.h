#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "broker/message.h"

namespace ferry::broker {

// Recycles messages so that steady-state traffic allocates nothing: each
// thread (shard) takes messages from its own pool, and a message goes back
// to the pool it came from when its last reference goes, on whatever thread
// that is, with the capacity of its strings and header list kept for the
// next one.
//
// The owning thread uses its free list without synchronisation; other
// threads push onto a lock-free stack that the owner takes over whole when
// its own list runs dry (so no ABA). A pool keeps at most kMaxCachedBytes
// of idle messages (bodies over kMaxKeptBody give their buffer back at
// once); beyond that a returned message is freed. A thread's pool outlives
// the thread and is adopted by the next thread that needs one, so tests and
// restarts that start many threads do not pile up pools.
class MessagePool {
 public:
  static constexpr std::size_t kMaxKeptBody = 64 * 1024;
  static constexpr std::size_t kMaxCachedBytes = 8 * 1024 * 1024;

  // A message with one reference, from the calling thread's pool.
  static MessageRef::Block* take();
  // Called by the last MessageRef; any thread.
  static void give_back(MessageRef::Block* b) noexcept;

  // Messages idle in the calling thread's pool (for tests).
  static std::size_t cached_here();

 private:
  friend struct PoolOwner;
  static MessagePool& here();
  static MessageRef::Block* fresh(MessagePool& home);

  MessageRef::Block* local_ = nullptr;                  // the owning thread's free list
  std::atomic<MessageRef::Block*> remote_{nullptr};     // returned by other threads
  std::atomic<std::size_t> cached_bytes_{0};            // idle in local_ and remote_
  std::atomic<std::size_t> cached_count_{0};
  bool owned_ = false;                                  // a thread uses it (registry mutex)
};

}  // namespace ferry::broker
