#pragma once

#include <atomic>
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace ferry {

// Memory for one asynchronous operation at a time. The event loop allocates
// the state of every operation it is asked to run (a socket wait, a write,
// a posted task); an object that never has two of one kind outstanding (a
// link's read wait, its write, a shard's end-of-turn flush) keeps a block
// for it, so a quiet connection that handles one message per loop turn
// still allocates nothing per message. A request that does not fit, or
// comes while the block is taken, goes to the heap.
class HandlerMemory {
 public:
  static constexpr std::size_t kSize = 256;

  HandlerMemory() = default;
  HandlerMemory(const HandlerMemory&) = delete;
  HandlerMemory& operator=(const HandlerMemory&) = delete;

  void* allocate(std::size_t n) {
    if (n <= kSize && !in_use_.exchange(true, std::memory_order_acquire)) return storage_;
    return ::operator new(n);
  }
  void deallocate(void* p) noexcept {
    if (p == static_cast<void*>(storage_)) {
      in_use_.store(false, std::memory_order_release);
    } else {
      ::operator delete(p);
    }
  }

 private:
  alignas(std::max_align_t) unsigned char storage_[kSize];
  // Atomic: a cross-shard wake-up is allocated on the posting thread and
  // freed on the target's.
  std::atomic<bool> in_use_{false};
};

template <typename T>
class HandlerAllocator {
 public:
  using value_type = T;

  explicit HandlerAllocator(HandlerMemory& m) noexcept : memory_(&m) {}
  template <typename U>
  HandlerAllocator(const HandlerAllocator<U>& o) noexcept : memory_(o.memory()) {}  // NOLINT

  T* allocate(std::size_t n) { return static_cast<T*>(memory_->allocate(sizeof(T) * n)); }
  void deallocate(T* p, std::size_t) noexcept { memory_->deallocate(p); }

  HandlerMemory* memory() const noexcept { return memory_; }
  template <typename U>
  bool operator==(const HandlerAllocator<U>& o) const noexcept {
    return memory_ == o.memory();
  }

 private:
  HandlerMemory* memory_;
};

// A completion handler whose operation state lives in `memory` (the event
// loop asks a handler for its allocator).
template <typename Handler>
class WithMemory {
 public:
  using allocator_type = HandlerAllocator<Handler>;

  WithMemory(HandlerMemory& memory, Handler handler) : memory_(&memory), handler_(std::move(handler)) {}
  allocator_type get_allocator() const noexcept { return allocator_type(*memory_); }

  template <typename... Args>
  void operator()(Args&&... args) {
    handler_(std::forward<Args>(args)...);
  }

 private:
  HandlerMemory* memory_;
  Handler handler_;
};

template <typename Handler>
WithMemory<std::decay_t<Handler>> with_memory(HandlerMemory& memory, Handler&& handler) {
  return WithMemory<std::decay_t<Handler>>(memory, std::forward<Handler>(handler));
}

}  // namespace ferry
