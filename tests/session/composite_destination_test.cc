#include "session/composite_destination.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "session/errors.h"

namespace ferry::session {
namespace {

using Elements = std::vector<std::string>;

Elements split(std::string_view text, std::size_t max = 64) {
  auto r = split_composite_destination(text, max);
  EXPECT_TRUE(r.ok()) << r.error().text();
  return r.ok() ? *r : Elements{};
}

TEST(CompositeDestination, OnlyACommaOutsideRabbitMqsExchangeFormMakesOne) {
  EXPECT_TRUE(is_composite_destination("/queue/a,/queue/b"));
  EXPECT_TRUE(is_composite_destination("a,b"));
  EXPECT_FALSE(is_composite_destination("/queue/a"));
  EXPECT_FALSE(is_composite_destination("/exchange/amq.direct/a,b"));  // a routing key
}

TEST(CompositeDestination, EachElementKeepsItsOwnPrefix) {
  EXPECT_EQ(split("/queue/a,/queue/b,/topic/c"), (Elements{"/queue/a", "/queue/b", "/topic/c"}));
  EXPECT_EQ(split("/temp-queue/r,/temp-topic/e"), (Elements{"/temp-queue/r", "/temp-topic/e"}));
}

TEST(CompositeDestination, AnUnprefixedElementTakesTheFirstElementsPrefix) {
  EXPECT_EQ(split("/queue/a,b,/topic/c,d"), (Elements{"/queue/a", "/queue/b", "/topic/c", "/queue/d"}));
  EXPECT_EQ(split("/topic/x,y"), (Elements{"/topic/x", "/topic/y"}));
  EXPECT_EQ(split("/temp-topic/x,y"), (Elements{"/temp-topic/x", "/temp-topic/y"}));
  // Bare names stay bare (default-destination-type or destination-type reads them).
  EXPECT_EQ(split("a,b"), (Elements{"a", "b"}));
  EXPECT_EQ(split("a,/topic/b"), (Elements{"a", "/topic/b"}));
}

TEST(CompositeDestination, AnEmptyElementIsRefusedByPosition) {
  for (std::string_view text : {"/queue/a,,/queue/b", ",/queue/a", "/queue/a,"}) {
    auto r = split_composite_destination(text, 64);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().message, errors::kUnknownDestination);
    EXPECT_NE(r.error().detail.find("empty"), std::string::npos) << r.error().detail;
  }
  EXPECT_NE(split_composite_destination("/queue/a,,b", 64).error().detail.find("element 2"), std::string::npos);
}

TEST(CompositeDestination, AtMostMaxElements) {
  EXPECT_EQ(split("a,b,c", 3).size(), 3u);
  auto r = split_composite_destination("a,b,c,d", 3);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, errors::kCompositeTooLarge);
  EXPECT_NE(r.error().detail.find("4 elements; at most 3"), std::string::npos) << r.error().detail;
  // Counted before anything is copied: a huge list costs one scan.
  std::string many(1'000'000, ',');
  EXPECT_FALSE(split_composite_destination(many, 64).ok());
}

}  // namespace
}  // namespace ferry::session
