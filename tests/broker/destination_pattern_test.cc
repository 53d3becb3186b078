#include "broker/destination_pattern.h"

#include <gtest/gtest.h>

namespace ferry::broker {
namespace {

TEST(DestinationPattern, ExactNamesMatchThemselvesOnly) {
  EXPECT_TRUE(matches_pattern("/queue/orders", "/queue/orders"));
  EXPECT_FALSE(matches_pattern("/queue/orders", "/queue/order"));
  EXPECT_FALSE(matches_pattern("/queue/orders", "/queue/orders/eu"));
  EXPECT_FALSE(matches_pattern("/queue/orders/eu", "/queue/orders"));
  EXPECT_FALSE(matches_pattern("/queue/orders", "/topic/orders"));
}

TEST(DestinationPattern, StarIsExactlyOneSegment) {
  EXPECT_TRUE(matches_pattern("/queue/*", "/queue/orders"));
  EXPECT_TRUE(matches_pattern("/*/orders", "/topic/orders"));
  EXPECT_FALSE(matches_pattern("/queue/*", "/queue/orders/eu"));
  EXPECT_FALSE(matches_pattern("/queue/*/eu", "/queue/orders"));
  EXPECT_TRUE(matches_pattern("/queue/*", "/queue/"));  // one segment, empty
  // Segments are whole: '.' and '*' inside a segment are plain characters.
  EXPECT_FALSE(matches_pattern("/queue/*.x", "/queue/a.x"));
  EXPECT_TRUE(matches_pattern("/queue/*.x", "/queue/*.x"));
}

TEST(DestinationPattern, GreaterThanIsOneOrMoreTrailingSegments) {
  EXPECT_TRUE(matches_pattern("/queue/>", "/queue/orders"));
  EXPECT_TRUE(matches_pattern("/queue/>", "/queue/a/b/c"));
  EXPECT_TRUE(matches_pattern(">", "/queue/orders"));
  EXPECT_FALSE(matches_pattern("/queue/>", "/queue"));
  EXPECT_FALSE(matches_pattern("/queue/>", "/queue/"));  // a lone empty last segment is no name
  EXPECT_TRUE(matches_pattern("/queue/>", "/queue//x"));
  EXPECT_FALSE(matches_pattern("/topic/>", "/queue/orders"));
}

TEST(DestinationPattern, EmptyStrings) {
  EXPECT_TRUE(matches_pattern("", ""));
  EXPECT_FALSE(matches_pattern("", "/queue/a"));
  EXPECT_FALSE(matches_pattern("/queue/a", ""));
  EXPECT_TRUE(matches_pattern("*", ""));
}

}  // namespace
}  // namespace ferry::broker
