#include "selector/like_pattern.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry::selector {
namespace {

bool like(std::string_view pattern, std::string_view text, std::optional<char32_t> escape = std::nullopt) {
  auto p = LikePattern::compile(pattern, escape);
  EXPECT_TRUE(p.ok()) << p.error().text();
  return p && p->matches(text);
}

TEST(LikePattern, PercentMatchesAnySequenceIncludingEmpty) {
  EXPECT_TRUE(like("a%", "a"));
  EXPECT_TRUE(like("a%", "abc"));
  EXPECT_FALSE(like("a%", "ba"));
  EXPECT_TRUE(like("%c", "abc"));
  EXPECT_TRUE(like("%b%", "abc"));
  EXPECT_TRUE(like("%", ""));
  EXPECT_TRUE(like("a%b%c", "axxbyyc"));
  EXPECT_FALSE(like("a%b%c", "axxbyy"));
  EXPECT_TRUE(like("%%a%%", "a"));
}

TEST(LikePattern, UnderscoreMatchesExactlyOneCharacter) {
  EXPECT_TRUE(like("a_c", "abc"));
  EXPECT_FALSE(like("a_c", "ac"));
  EXPECT_FALSE(like("a_c", "abbc"));
  EXPECT_TRUE(like("___", "abc"));
  // One character is one code point, not one byte.
  EXPECT_TRUE(like("a_c", "a\xC3\xA9" "c"));
  EXPECT_TRUE(like("_", "\xE2\x82\xAC"));
  EXPECT_TRUE(like("%_\xE2\x82\xAC", "x\xE2\x82\xAC\xE2\x82\xAC"));
}

TEST(LikePattern, WithoutWildcardsItIsEquality) {
  EXPECT_TRUE(like("abc", "abc"));
  EXPECT_FALSE(like("abc", "abcd"));
  EXPECT_FALSE(like("abc", "ab"));
  EXPECT_TRUE(like("", ""));
  EXPECT_FALSE(like("", "a"));
}

TEST(LikePattern, EscapeMakesWildcardsLiteral) {
  EXPECT_TRUE(like("100\\%", "100%", U'\\'));
  EXPECT_FALSE(like("100\\%", "1000", U'\\'));
  EXPECT_TRUE(like("a!_b", "a_b", U'!'));
  EXPECT_FALSE(like("a!_b", "axb", U'!'));
  EXPECT_TRUE(like("a!!b", "a!b", U'!'));
  EXPECT_TRUE(like("%!%", "50%", U'!'));
}

TEST(LikePattern, EscapeAtTheEndIsRefused) {
  auto p = LikePattern::compile("abc!", U'!');
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("ESCAPE"), std::string::npos);
}

// A naive backtracking matcher takes exponential time on this; the
// two-pointer one takes text x pattern steps.
TEST(LikePattern, PathologicalPatternIsFast) {
  const std::string text(20000, 'a');
  std::string pattern;
  for (int i = 0; i < 30; ++i) pattern += "%a";
  pattern += "%b";
  EXPECT_FALSE(like(pattern, text));
  EXPECT_TRUE(like(pattern.substr(0, pattern.size() - 2), text));
}

}  // namespace
}  // namespace ferry::selector
