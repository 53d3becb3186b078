#include "broker/paged_tail.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace ferry::broker {
namespace {

std::vector<PagedPosition> peek_all(const PagedTail& t) {
  std::vector<PagedPosition> out;
  t.peek(t.size(), out);
  return out;
}

// A backlog as the broker appends it: records of about `record` bytes one
// after another, a new segment every `per_segment` records.
std::vector<PagedPosition> backlog(std::size_t n, std::uint64_t record = 1100,
                                   std::size_t per_segment = 50000) {
  std::vector<PagedPosition> v;
  for (std::size_t i = 0; i < n; ++i)
    v.push_back(PagedPosition{1 + i / per_segment, 24 + (i % per_segment) * record, 0, 0});
  return v;
}

TEST(PagedTailTest, StartsEmpty) {
  PagedTail t;
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.memory_bytes(), 0u);
  std::vector<PagedPosition> out;
  EXPECT_EQ(t.peek(5, out), 0u);
}

TEST(PagedTailTest, KeepsOrderAndEveryField) {
  PagedTail t;
  const std::vector<PagedPosition> in = {
      {3, 24, 0, 0},          {3, 1200, 0, 0},      {3, 900, 2, 0},  // offset going back: a batch's entry
      {7, 24, 0, 5},          {2, 1ull << 40, 1, 0},                  // segment going back, large offset
      {2, (1ull << 40) + 1, 300, 70000},                              // large index and deliveries
      {~0ull, ~0ull, ~0u, ~0u}, {0, 0, 0, 0}};
  for (const auto& p : in) t.push(p);
  EXPECT_EQ(t.size(), in.size());
  EXPECT_EQ(peek_all(t), in);
  std::vector<PagedPosition> got;
  while (!t.empty()) {
    t.peek(1, got);
    t.pop(1);
  }
  EXPECT_EQ(got, in);
}

TEST(PagedTailTest, PeekDoesNotRemove) {
  PagedTail t;
  for (const auto& p : backlog(10)) t.push(p);
  std::vector<PagedPosition> a, b;
  EXPECT_EQ(t.peek(4, a), 4u);
  EXPECT_EQ(t.peek(4, b), 4u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(t.size(), 10u);
  std::vector<PagedPosition> all;
  EXPECT_EQ(t.peek(100, all), 10u);
}

TEST(PagedTailTest, ABacklogCostsAFewBytesPerMessage) {
  PagedTail t;
  const auto in = backlog(1'000'000);
  for (const auto& p : in) t.push(p);
  const double per_message = static_cast<double>(t.memory_bytes()) / in.size();
  EXPECT_LT(per_message, 4.5) << "bytes per paged message";
  EXPECT_EQ(t.count_in(1), 50000u);
  EXPECT_EQ(t.count_in(20), 50000u);
  EXPECT_EQ(t.count_in(21), 0u);
  // Drains in order across many blocks and segments.
  std::vector<PagedPosition> chunk;
  std::size_t i = 0;
  while (!t.empty()) {
    chunk.clear();
    const std::size_t n = t.peek(777, chunk);
    for (std::size_t k = 0; k < n; ++k) ASSERT_EQ(chunk[k], in[i + k]) << "at " << i + k;
    t.pop(n);
    i += n;
  }
  EXPECT_EQ(i, in.size());
  EXPECT_EQ(t.count_in(1), 0u);
  EXPECT_LE(t.memory_bytes(), PagedTail::kBlockBytes + 256);
}

TEST(PagedTailTest, InterleavedPushAndPopMatchAFifo) {
  std::mt19937_64 rng(42);
  PagedTail t;
  std::vector<PagedPosition> model;
  std::size_t front = 0;
  std::uint64_t seg = 1, off = 24;
  for (int round = 0; round < 20000; ++round) {
    const int pushes = static_cast<int>(rng() % 50);
    for (int k = 0; k < pushes; ++k) {
      if (rng() % 100 == 0) {
        ++seg;
        off = 24;
      }
      off += 50 + rng() % 5000;
      PagedPosition p{seg, off, static_cast<std::uint32_t>(rng() % 4 == 0 ? rng() % 9 : 0),
                      static_cast<std::uint32_t>(rng() % 10 == 0 ? rng() % 20 : 0)};
      t.push(p);
      model.push_back(p);
    }
    const std::size_t pops = std::min<std::size_t>(rng() % 50, model.size() - front);
    std::vector<PagedPosition> got;
    ASSERT_EQ(t.peek(pops, got), pops);
    for (std::size_t k = 0; k < pops; ++k) ASSERT_EQ(got[k], model[front + k]);
    t.pop(pops);
    front += pops;
    ASSERT_EQ(t.size(), model.size() - front);
  }
  std::size_t in_seg = 0;
  for (std::size_t k = front; k < model.size(); ++k) in_seg += model[k].segment == seg;
  EXPECT_EQ(t.count_in(seg), in_seg);
}

TEST(PagedTailTest, ClearForgetsEverything) {
  PagedTail t;
  for (const auto& p : backlog(5000)) t.push(p);
  t.clear();
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.count_in(1), 0u);
  EXPECT_EQ(t.memory_bytes(), 0u);
  t.push({9, 24, 0, 0});
  EXPECT_EQ(peek_all(t), (std::vector<PagedPosition>{{9, 24, 0, 0}}));
}

}  // namespace
}  // namespace ferry::broker
