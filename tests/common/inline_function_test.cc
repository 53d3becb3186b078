#include "common/inline_function.h"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ferry {
namespace {

// Counts live copies, to see that each callable is destroyed exactly once.
struct Tracked {
  explicit Tracked(int* live) : live(live) { ++*live; }
  Tracked(const Tracked& o) : live(o.live) { ++*live; }
  Tracked(Tracked&& o) noexcept : live(o.live) { ++*live; }
  ~Tracked() { --*live; }
  int* live;
};

TEST(InlineFunction, CallsWithArgumentsAndReturnsTheResult) {
  InlineFunction<int(int, const std::string&), 32> f = [](int a, const std::string& s) {
    return a + static_cast<int>(s.size());
  };
  ASSERT_TRUE(f);
  EXPECT_EQ(f(2, "abc"), 5);
}

TEST(InlineFunction, EmptyIsFalse) {
  Task t;
  EXPECT_FALSE(t);
  Task n = nullptr;
  EXPECT_FALSE(n);
}

TEST(InlineFunction, SmallCapturesStayInline) {
  auto small = [p = std::shared_ptr<int>(), s = std::string(), a = std::array<char, 64>{}] {};
  EXPECT_TRUE(Task::fits_inline<decltype(small)>());
  auto big = [a = std::array<char, 200>{}] {};
  EXPECT_FALSE(Task::fits_inline<decltype(big)>());
  // A member that may throw while moving (a const string is copied) would
  // break a noexcept relocation: kept on the heap.
  const std::string c = "x";
  auto throwing = [c] {};
  EXPECT_FALSE(Task::fits_inline<decltype(throwing)>());
}

TEST(InlineFunction, MovesKeepTheCallableAndDestroyItOnce) {
  int live = 0;
  int calls = 0;
  {
    Task a = [t = Tracked(&live), &calls] { ++calls; };
    EXPECT_EQ(live, 1);
    Task b = std::move(a);
    EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_EQ(live, 1);
    b();
    Task c;
    c = std::move(b);
    c();
    EXPECT_EQ(live, 1);
    std::vector<Task> many;
    for (int i = 0; i < 100; ++i) many.emplace_back([t = Tracked(&live), &calls] { ++calls; });
    EXPECT_EQ(live, 101);  // growth relocated them without copies left behind
    for (auto& m : many) m();
  }
  EXPECT_EQ(live, 0);
  EXPECT_EQ(calls, 102);
}

TEST(InlineFunction, LargeCallablesWorkFromTheHeap) {
  int live = 0;
  std::array<char, 300> big{};
  big[299] = 'z';
  char seen = 0;
  {
    Task a = [big, t = Tracked(&live), &seen] { seen = big[299]; };
    Task b = std::move(a);
    b();
    EXPECT_EQ(live, 1);
  }
  EXPECT_EQ(seen, 'z');
  EXPECT_EQ(live, 0);
}

TEST(InlineFunction, AssigningOverAFullOneDestroysTheOld) {
  int live = 0;
  Task a = [t = Tracked(&live)] {};
  Task b = [t = Tracked(&live)] {};
  EXPECT_EQ(live, 2);
  a = std::move(b);
  EXPECT_EQ(live, 1);
  a = Task();
  EXPECT_EQ(live, 0);
}

}  // namespace
}  // namespace ferry
