#include "stomp/parse_error.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace ferry::stomp {
namespace {

constexpr ParseError kAllErrors[] = {
    ParseError::kUnknownCommand,  ParseError::kMalformedHeader, ParseError::kInvalidEscape,
    ParseError::kInvalidUtf8,     ParseError::kInvalidContentLength, ParseError::kMissingNul,
    ParseError::kFrameTooLarge,   ParseError::kBodyTooLarge,    ParseError::kTooManyHeaders,
    ParseError::kHeaderTooLong,   ParseError::kNulInHeaders,
};

TEST(ParseErrorTest, EveryErrorHasItsOwnText) {
  std::set<std::string_view> texts;
  for (const ParseError e : kAllErrors) texts.insert(describe(e));
  EXPECT_EQ(texts.size(), std::size(kAllErrors));
  EXPECT_EQ(texts.count(describe(ParseError::kNone)), 0u);
}

TEST(ParseErrorTest, TextsFitInAnErrorFrameHeaderOfAnyVersion) {
  // Sent as a header value, possibly to a 1.0 client: nothing to escape.
  for (const ParseError e : kAllErrors) {
    const std::string_view text = describe(e);
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(text.find_first_of(":\\\r\n"), std::string_view::npos) << text;
  }
}

TEST(ParseErrorTest, LimitTextsNameTheirConfigOption) {
  EXPECT_EQ(describe(ParseError::kFrameTooLarge), "frame too large (max-frame-size exceeded)");
  EXPECT_EQ(describe(ParseError::kBodyTooLarge), "body too large (max-body-size exceeded)");
  EXPECT_EQ(describe(ParseError::kTooManyHeaders), "too many headers (max-headers exceeded)");
  EXPECT_EQ(describe(ParseError::kHeaderTooLong),
            "header line too long (max-header-length exceeded)");
}

TEST(ParseErrorTest, RuleTextsNameTheRule) {
  EXPECT_EQ(describe(ParseError::kUnknownCommand), "unknown command");
  EXPECT_EQ(describe(ParseError::kInvalidEscape), "invalid escape sequence in header");
  EXPECT_NE(describe(ParseError::kInvalidContentLength).find("content-length"),
            std::string_view::npos);
  EXPECT_NE(describe(ParseError::kInvalidUtf8).find("UTF-8"), std::string_view::npos);
  EXPECT_NE(describe(ParseError::kNulInHeaders).find("NUL"), std::string_view::npos);
  EXPECT_NE(describe(ParseError::kMissingNul).find("NUL"), std::string_view::npos);
}

}  // namespace
}  // namespace ferry::stomp
