#include "auth/permissions.h"

#include <gtest/gtest.h>

namespace ferry::auth {
namespace {

Pattern pattern(const std::string& text) {
  auto p = Pattern::compile(text);
  EXPECT_TRUE(p) << p.error().text();
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
  auto p = Pattern::compile("([");
  ASSERT_FALSE(p);
  const std::string error = p.error().text();
  EXPECT_NE(error.find("(["), std::string::npos) << error;
}

TEST(PermissionsTest, VeryLongNamesAreDecided) {
  // RE2 does not recurse per character (std::regex did, so names past 4 KiB
  // were denied unmatched): any length is matched, in linear time.
  Pattern p = pattern("^/queue/a+$");
  EXPECT_TRUE(p.matches("/queue/" + std::string(1000, 'a')));
  EXPECT_TRUE(p.matches("/queue/" + std::string(100000, 'a')));
  EXPECT_FALSE(p.matches("/queue/" + std::string(100000, 'a') + "b"));
}

TEST(PermissionsTest, CatastrophicBacktrackingPatternIsDecidedAtOnce) {
  // issue 18.4: with std::regex, this grant and a 21-character name held a
  // shard for about 5 minutes (exponential backtracking). RE2 is linear; a
  // timing is not asserted, but a backtracking engine would not finish
  // this test (the names go up to 10,000 characters).
  Pattern p = pattern("^/queue/(a*)*b$");
  for (std::size_t n : {14u, 21u, 30u, 10000u}) {
    EXPECT_FALSE(p.matches("/queue/" + std::string(n, 'a'))) << n;
    EXPECT_TRUE(p.matches("/queue/" + std::string(n, 'a') + "b")) << n;
  }
  Pattern nested = pattern("^(/|q|u|e|/queue/|(a|aa)+)+$");
  EXPECT_FALSE(nested.matches("/queue/" + std::string(40, 'a') + "!"));
}

TEST(PermissionsTest, PatternsRe2RefusesAreErrorsNotMatches) {
  // Backreferences and lookaround need backtracking: refused where the
  // permission is set, with an error naming the pattern (never a pattern
  // that silently matches everything or nothing).
  for (const char* text : {"^/queue/(a)\\1$", "^/queue/(?=x)", "^/queue/(?!tmp)", "(?<=a)b"}) {
    auto p = Pattern::compile(text);
    ASSERT_FALSE(p) << text;
    const std::string error = p.error().text();
    EXPECT_NE(error.find(text), std::string::npos) << error;
    EXPECT_NE(error.find("RE2"), std::string::npos) << error;
  }
}

TEST(PermissionsTest, CommonRabbitMqStylePatternsStillWork) {
  // What users write (and what ECMAScript accepted) keeps its meaning.
  EXPECT_TRUE(pattern("^/queue/app\\.[a-z0-9_-]+$").matches("/queue/app.jobs-1"));
  EXPECT_TRUE(pattern("^/(queue|topic)/\\w+$").matches("/topic/news"));
  EXPECT_TRUE(pattern("^/queue/\\d{3}$").matches("/queue/123"));
  EXPECT_FALSE(pattern("^/queue/\\d{3}$").matches("/queue/1234"));
  EXPECT_TRUE(pattern("\\/queue\\/x").matches("/queue/x"));
  EXPECT_TRUE(pattern("^/queue/[^.]+$").matches("/queue/abc"));
  EXPECT_FALSE(pattern("^/queue/[^.]+$").matches("/queue/a.c"));
  // Names are bytes: "." is one byte, and names that are not UTF-8 match.
  EXPECT_TRUE(pattern("^/queue/.$").matches("/queue/\xff"));
  EXPECT_TRUE(pattern("^/queue/caf\xc3\xa9$").matches("/queue/caf\xc3\xa9"));
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
