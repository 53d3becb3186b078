#include "common/handler_memory.h"

#include <gtest/gtest.h>

#include <memory>
#include <type_traits>

namespace ferry {
namespace {

TEST(HandlerMemory, OneOperationAtATimeUsesTheBlock) {
  HandlerMemory memory;
  void* first = memory.allocate(100);
  void* second = memory.allocate(100);  // the block is taken: heap
  EXPECT_NE(first, second);
  memory.deallocate(second);
  memory.deallocate(first);
  // Free again: the same block.
  void* third = memory.allocate(HandlerMemory::kSize);
  EXPECT_EQ(third, first);
  memory.deallocate(third);
}

TEST(HandlerMemory, TooLargeGoesToTheHeap) {
  HandlerMemory memory;
  void* block = memory.allocate(8);
  memory.deallocate(block);
  void* big = memory.allocate(HandlerMemory::kSize + 1);
  EXPECT_NE(big, block);
  void* small = memory.allocate(8);  // the block was not taken by the big one
  EXPECT_EQ(small, block);
  memory.deallocate(big);
  memory.deallocate(small);
}

TEST(HandlerMemory, ASizedBlockServesLargerOperations) {
  SizedHandlerMemory<512> memory;
  HandlerBlock& block = memory;
  EXPECT_EQ(block.size(), 512u);
  void* op = block.allocate(400);  // a TLS write's state
  void* next = block.allocate(400);  // taken: heap
  EXPECT_NE(op, next);
  block.deallocate(next);
  block.deallocate(op);
  EXPECT_EQ(block.allocate(512), op);
  block.deallocate(op);
  HandlerMemory small;
  void* big = small.allocate(400);   // does not fit 256 bytes: heap
  void* fits = small.allocate(256);  // the block, not taken by the big one
  void* again = small.allocate(8);   // taken now: heap
  EXPECT_NE(big, fits);
  EXPECT_NE(again, fits);
  small.deallocate(again);
  small.deallocate(fits);
  small.deallocate(big);
  void* block_again = small.allocate(8);
  EXPECT_EQ(block_again, fits);
  small.deallocate(block_again);
}

TEST(HandlerMemory, AHandlerNamesItsAllocator) {
  HandlerMemory memory;
  int called = 0;
  auto h = with_memory(memory, [&called](int n) { called += n; });
  h(2);
  EXPECT_EQ(called, 2);
  using Alloc = decltype(h)::allocator_type;
  // What an event loop does with it: rebind to its operation type.
  struct Operation {
    char state[64];
  };
  using OpAlloc = std::allocator_traits<Alloc>::rebind_alloc<Operation>;
  OpAlloc a(h.get_allocator());
  Operation* op = a.allocate(1);
  EXPECT_EQ(a.memory(), &memory);
  void* again = memory.allocate(8);  // taken by op: heap
  EXPECT_NE(static_cast<void*>(op), again);
  memory.deallocate(again);
  a.deallocate(op, 1);
  void* block = memory.allocate(8);
  EXPECT_EQ(static_cast<void*>(op), block);
  memory.deallocate(block);
}

}  // namespace
}  // namespace ferry
