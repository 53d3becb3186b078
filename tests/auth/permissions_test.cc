#include "auth/permissions.h"

#include <gtest/gtest.h>

namespace ferry::auth {
namespace {

Pattern pattern(const std::string& text) {
  std::string error;
  auto p = Pattern::compile(text, error);
  EXPECT_TRUE(p) << error;
  return p ? *p : Pattern{};
}

TEST(PermissionsTest, EmptyPatternMatchesNothing) {
  Pattern p = pattern("");
  EXPECT_FALSE(p.matches("/queue/a"));
  EXPECT_FALSE(p.matches(""));
}

TEST(PermissionsTest, DotStarMatchesEverything) {
  for (const char* all : {".*", "^.*$"}) {
    Pattern p = pattern(all);
    EXPECT_TRUE(p.matches("/queue/a"));
    EXPECT_TRUE(p.matches(std::string(10000, 'x')));
  }
}

TEST(PermissionsTest, PatternsAreUnanchoredLikeRabbitMq) {
  Pattern p = pattern("orders");
  EXPECT_TRUE(p.matches("/queue/orders"));
  EXPECT_TRUE(p.matches("/topic/orders.eu"));
  EXPECT_FALSE(p.matches("/queue/invoices"));
  Pattern anchored = pattern("^/queue/orders$");
  EXPECT_TRUE(anchored.matches("/queue/orders"));
  EXPECT_FALSE(anchored.matches("/queue/orders2"));
  EXPECT_FALSE(anchored.matches("/topic/orders"));
}

TEST(PermissionsTest, AlternativesAndPrefixes) {
  Pattern p = pattern("^/(queue|topic)/app\\.");
  EXPECT_TRUE(p.matches("/queue/app.jobs"));
  EXPECT_TRUE(p.matches("/topic/app.events"));
  EXPECT_FALSE(p.matches("/queue/appjobs"));
  EXPECT_FALSE(p.matches("/queue/other.app.x"));
}

TEST(PermissionsTest, InvalidRegexIsAnErrorNamingIt) {
  std::string error;
  EXPECT_FALSE(Pattern::compile("([", error));
  EXPECT_NE(error.find("(["), std::string::npos) << error;
}

TEST(PermissionsTest, VeryLongNamesAreDeniedNotCrashed) {
  Pattern p = pattern("^/queue/a+$");
  EXPECT_TRUE(p.matches("/queue/" + std::string(1000, 'a')));
  EXPECT_FALSE(p.matches("/queue/" + std::string(100000, 'a')));
}

TEST(PermissionsTest, AllowsPicksThePatternOfTheAccess) {
  Permissions perms{pattern("^/queue/mine"), pattern("^/queue/"), pattern("^/topic/")};
  EXPECT_TRUE(perms.allows(Access::kConfigure, "/queue/mine.1"));
  EXPECT_FALSE(perms.allows(Access::kConfigure, "/queue/other"));
  EXPECT_TRUE(perms.allows(Access::kWrite, "/queue/other"));
  EXPECT_FALSE(perms.allows(Access::kWrite, "/topic/news"));
  EXPECT_TRUE(perms.allows(Access::kRead, "/topic/news"));
  EXPECT_FALSE(perms.allows(Access::kRead, "/queue/mine"));
  EXPECT_EQ(to_string(Access::kConfigure), "configure");
  EXPECT_EQ(to_string(Access::kWrite), "write");
  EXPECT_EQ(to_string(Access::kRead), "read");
}

}  // namespace
}  // namespace ferry::auth
