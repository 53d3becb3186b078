#include "session/recent_ids.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry::session {
namespace {

TEST(RecentIds, FindsEachRememberedIdOnce) {
  RecentIds ids(4);
  ids.remember("ID:a");
  ids.remember("ID:b");
  EXPECT_TRUE(ids.take("ID:a"));
  EXPECT_FALSE(ids.take("ID:a"));  // forgotten once found
  EXPECT_TRUE(ids.take("ID:b"));
  EXPECT_FALSE(ids.take("ID:c"));
  EXPECT_FALSE(ids.take(""));  // a taken slot is empty; "" never matches
}

TEST(RecentIds, ForgetsTheOldestPastItsCapacity) {
  RecentIds ids(3);
  for (int i = 0; i < 5; ++i) ids.remember("ID:" + std::to_string(i));
  EXPECT_FALSE(ids.take("ID:0"));
  EXPECT_FALSE(ids.take("ID:1"));
  EXPECT_TRUE(ids.take("ID:2"));
  EXPECT_TRUE(ids.take("ID:4"));
  EXPECT_TRUE(ids.take("ID:3"));
  // Taken slots are reused in ring order.
  ids.remember("ID:5");
  EXPECT_TRUE(ids.take("ID:5"));
}

TEST(RecentIds, TheSameIdTwiceIsFoundTwice) {
  RecentIds ids(8);
  ids.remember("ID:x");
  ids.remember("ID:x");
  EXPECT_TRUE(ids.take("ID:x"));
  EXPECT_TRUE(ids.take("ID:x"));
  EXPECT_FALSE(ids.take("ID:x"));
}

TEST(RecentIds, ZeroCapacityRemembersNothing) {
  RecentIds ids(0);
  ids.remember("ID:a");
  EXPECT_FALSE(ids.take("ID:a"));
}

}  // namespace
}  // namespace ferry::session
