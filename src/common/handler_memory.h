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
//
// HandlerBlock is the block and its bookkeeping; HandlerMemory (256 bytes:
// a TCP wait or write) and SizedHandlerMemory<N> for larger operations
// (a TLS read or write is asio's ssl operation around the socket's) own
// the storage.
class HandlerBlock {
 public:
  HandlerBlock(const HandlerBlock&) = delete;
  HandlerBlock& operator=(const HandlerBlock&) = delete;

  void* allocate(std::size_t n) {
    if (n <= size_ && !in_use_.exchange(true, std::memory_order_acquire)) return storage_;
    return ::operator new(n);
  }
  void deallocate(void* p) noexcept {
    if (p == storage_) {
      in_use_.store(false, std::memory_order_release);
    } else {
      ::operator delete(p);
    }
  }
  std::size_t size() const noexcept { return size_; }

 protected:
  HandlerBlock(void* storage, std::size_t size) noexcept : storage_(storage), size_(size) {}
  ~HandlerBlock() = default;

 private:
  void* storage_;
  std::size_t size_;
  // Atomic: a cross-shard wake-up is allocated on the posting thread and
  // freed on the target's.
  std::atomic<bool> in_use_{false};
};

template <std::size_t N>
class SizedHandlerMemory final : public HandlerBlock {
 public:
  static constexpr std::size_t kSize = N;
  SizedHandlerMemory() noexcept : HandlerBlock(storage_, N) {}

 private:
  alignas(std::max_align_t) unsigned char storage_[N];
};

using HandlerMemory = SizedHandlerMemory<256>;

template <typename T>
class HandlerAllocator {
 public:
  using value_type = T;

  explicit HandlerAllocator(HandlerBlock& m) noexcept : memory_(&m) {}
  template <typename U>
  HandlerAllocator(const HandlerAllocator<U>& o) noexcept : memory_(o.memory()) {}  // NOLINT

  T* allocate(std::size_t n) { return static_cast<T*>(memory_->allocate(sizeof(T) * n)); }
  void deallocate(T* p, std::size_t) noexcept { memory_->deallocate(p); }

  HandlerBlock* memory() const noexcept { return memory_; }
  template <typename U>
  bool operator==(const HandlerAllocator<U>& o) const noexcept {
    return memory_ == o.memory();
  }

 private:
  HandlerBlock* memory_;
};

// A completion handler whose operation state lives in `memory` (the event
// loop asks a handler for its allocator).
template <typename Handler>
class WithMemory {
 public:
  using allocator_type = HandlerAllocator<Handler>;

  WithMemory(HandlerBlock& memory, Handler handler) : memory_(&memory), handler_(std::move(handler)) {}
  allocator_type get_allocator() const noexcept { return allocator_type(*memory_); }

  template <typename... Args>
  void operator()(Args&&... args) {
    handler_(std::forward<Args>(args)...);
  }

 private:
  HandlerBlock* memory_;
  Handler handler_;
};

template <typename Handler>
WithMemory<std::decay_t<Handler>> with_memory(HandlerBlock& memory, Handler&& handler) {
  return WithMemory<std::decay_t<Handler>>(memory, std::forward<Handler>(handler));
}

}  // namespace ferry
