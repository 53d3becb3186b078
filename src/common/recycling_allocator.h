#pragma once

#include <cstddef>
#include <new>

namespace ferry {

// An allocator that keeps freed blocks on a per-thread free list and hands
// them out again, so containers and shared objects that are made and
// dropped once per message (an operation's state, a queue's deque chunks)
// cost no heap allocation in steady state.
//
// Per element type and thread, blocks of up to two distinct sizes are
// recycled (a node or control block is one size; a deque's chunk another);
// other sizes go straight to the heap. Each list keeps at most kMaxKept
// blocks. A block freed on another thread than the one that took it joins
// that thread's list: memory may migrate between threads, within the same
// bound. Lists are freed when their thread ends.
template <typename T>
class RecyclingAllocator {
 public:
  using value_type = T;
  static constexpr std::size_t kMaxKept = 1024;

  RecyclingAllocator() noexcept = default;
  template <typename U>
  RecyclingAllocator(const RecyclingAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)

  T* allocate(std::size_t n) {
    if (FreeList* list = lists().find(n); list != nullptr && list->head != nullptr) {
      Node* node = list->head;
      list->head = node->next;
      --list->kept;
      return reinterpret_cast<T*>(node);
    }
    return static_cast<T*>(::operator new(bytes(n), std::align_val_t(kAlign)));
  }

  void deallocate(T* p, std::size_t n) noexcept {
    FreeList* list = lists().find_or_claim(n);
    if (list == nullptr || list->kept >= kMaxKept) {
      ::operator delete(p, std::align_val_t(kAlign));
      return;
    }
    auto* node = reinterpret_cast<Node*>(p);
    node->next = list->head;
    list->head = node;
    ++list->kept;
  }

  template <typename U>
  bool operator==(const RecyclingAllocator<U>&) const noexcept {
    return true;
  }

 private:
  struct Node {
    Node* next;
  };
  static constexpr std::size_t kAlign =
      alignof(T) > alignof(Node) ? alignof(T) : alignof(Node);
  static std::size_t bytes(std::size_t n) {
    const std::size_t b = n * sizeof(T);
    return b < sizeof(Node) ? sizeof(Node) : b;
  }

  struct FreeList {
    std::size_t count = 0;  // elements per block; 0 = unclaimed
    Node* head = nullptr;
    std::size_t kept = 0;
  };
  struct Lists {
    FreeList slots[2];
    FreeList* find(std::size_t n) {
      for (FreeList& l : slots)
        if (l.count == n) return &l;
      return nullptr;
    }
    FreeList* find_or_claim(std::size_t n) {
      if (FreeList* l = find(n)) return l;
      for (FreeList& l : slots) {
        if (l.count == 0) {
          l.count = n;
          return &l;
        }
      }
      return nullptr;
    }
    ~Lists() {
      for (FreeList& l : slots) {
        while (l.head != nullptr) {
          Node* next = l.head->next;
          ::operator delete(l.head, std::align_val_t(kAlign));
          l.head = next;
        }
      }
    }
  };
  static Lists& lists() {
    thread_local Lists l;
    return l;
  }
};

}  // namespace ferry
