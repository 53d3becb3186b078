#include "common/recycling_allocator.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

namespace ferry {
namespace {

struct Node {
  long a[5];
};

TEST(RecyclingAllocator, AFreedBlockIsHandedOutAgain) {
  RecyclingAllocator<Node> alloc;
  Node* p = alloc.allocate(1);
  alloc.deallocate(p, 1);
  Node* q = alloc.allocate(1);
  EXPECT_EQ(p, q);
  alloc.deallocate(q, 1);
}

TEST(RecyclingAllocator, TwoSizesAreRecycledOthersAreNot) {
  struct Other {
    char c[24];
  };
  RecyclingAllocator<Other> alloc;
  Other* one = alloc.allocate(1);
  Other* eight = alloc.allocate(8);
  Other* three = alloc.allocate(3);
  alloc.deallocate(one, 1);
  alloc.deallocate(eight, 8);
  alloc.deallocate(three, 3);  // a third size: freed, not kept
  EXPECT_EQ(alloc.allocate(8), eight);
  EXPECT_EQ(alloc.allocate(1), one);
  alloc.deallocate(one, 1);
  alloc.deallocate(eight, 8);
}

TEST(RecyclingAllocator, KeepsAtMostItsBound) {
  struct Item {
    char c[40];
  };
  RecyclingAllocator<Item> alloc;
  const std::size_t n = RecyclingAllocator<Item>::kMaxKept + 100;
  std::vector<Item*> blocks;
  for (std::size_t i = 0; i < n; ++i) blocks.push_back(alloc.allocate(1));
  for (Item* b : blocks) alloc.deallocate(b, 1);
  // The first kMaxKept come back (most recently freed first); the rest were freed.
  std::set<Item*> kept;
  for (std::size_t i = 0; i < RecyclingAllocator<Item>::kMaxKept; ++i) kept.insert(alloc.allocate(1));
  std::set<Item*> first(blocks.begin(), blocks.begin() + RecyclingAllocator<Item>::kMaxKept);
  EXPECT_EQ(kept, first);
  for (Item* b : kept) alloc.deallocate(b, 1);
}

TEST(RecyclingAllocator, ServesContainersAndSharedObjects) {
  std::map<int, int, std::less<>, RecyclingAllocator<std::pair<const int, int>>> m;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 100; ++i) m.emplace(i, i * 2);
    EXPECT_EQ(m.at(42), 84);
    m.clear();
  }
  std::deque<long, RecyclingAllocator<long>> d;
  for (int i = 0; i < 10000; ++i) {
    d.push_back(i);
    if (d.size() > 100) d.pop_front();
  }
  EXPECT_EQ(d.front(), 9900);
  auto s = std::allocate_shared<Node>(RecyclingAllocator<Node>());
  s->a[4] = 7;
  EXPECT_EQ(s->a[4], 7);
}

TEST(RecyclingAllocator, BlocksFreedOnAnotherThreadStayValid) {
  RecyclingAllocator<Node> alloc;
  std::vector<Node*> blocks;
  for (int i = 0; i < 50; ++i) blocks.push_back(alloc.allocate(1));
  std::thread t([&] {
    for (Node* b : blocks) alloc.deallocate(b, 1);  // joins that thread's list, freed when it ends
  });
  t.join();
  Node* p = alloc.allocate(1);
  p->a[0] = 1;
  alloc.deallocate(p, 1);
}

}  // namespace
}  // namespace ferry
