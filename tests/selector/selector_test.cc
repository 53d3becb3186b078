#include "selector/selector.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace ferry::selector {
namespace {

using Headers = std::map<std::string, std::string, std::less<>>;

// Parses `text` (which must parse) and matches it against `headers`.
bool match(std::string_view text, const Headers& headers = {}) {
  auto r = Selector::parse(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().text());
  if (!r.ok()) return false;
  return r.value()->matches_fn([&](std::string_view name) -> std::optional<std::string_view> {
    auto it = headers.find(name);
    if (it == headers.end()) return std::nullopt;
    return std::string_view(it->second);
  });
}

// A parse error: its position (from "invalid selector at position N") and
// the Error itself.
struct ParseError {
  std::size_t position = 0;
  std::string text;    // message: detail
  std::string detail;
  std::string message() const { return text; }
};
ParseError error_of(std::string_view text) {
  auto r = Selector::parse(text);
  EXPECT_FALSE(r.ok()) << text << " parsed";
  if (r.ok()) return ParseError{};
  const Error& e = r.error();
  const std::string prefix = std::string(kInvalidSelector) + " at position ";
  EXPECT_EQ(e.message.rfind(prefix, 0), 0u) << e.message;
  return ParseError{static_cast<std::size_t>(std::stoul(e.message.substr(prefix.size()))), e.text(), e.detail};
}

TEST(Selector, StringEquality) {
  const Headers h{{"type", "order"}};
  EXPECT_TRUE(match("type = 'order'", h));
  EXPECT_FALSE(match("type = 'Order'", h));  // values are case-sensitive
  EXPECT_TRUE(match("type <> 'invoice'", h));
  EXPECT_FALSE(match("type <> 'order'", h));
  EXPECT_TRUE(match("'order' = type", h));
}

TEST(Selector, StringLiteralDoublesItsQuote) {
  EXPECT_TRUE(match("name = 'O''Brien'", {{"name", "O'Brien"}}));
  EXPECT_TRUE(match("name = ''", {{"name", ""}}));
}

TEST(Selector, KeywordsAreCaseInsensitiveIdentifiersAreNot) {
  const Headers h{{"type", "a"}, {"n", "5"}};
  EXPECT_TRUE(match("type = 'a' and n between 1 AnD 9", h));
  EXPECT_TRUE(match("type IS not null Or false", h));
  EXPECT_TRUE(match("Type IS NULL", h));
  EXPECT_TRUE(match("TYPE is null", h));
  EXPECT_TRUE(match("true", h));
  EXPECT_FALSE(match("FaLsE", h));
}

TEST(Selector, HeaderComparedWithNumberIsConvertedWhenNumeric) {
  const Headers h{{"priority", "7"}, {"price", "12.5"}, {"code", "abc"}, {"big", "1e3"}, {"neg", "-3"}};
  EXPECT_TRUE(match("priority > 4", h));
  EXPECT_FALSE(match("priority < 4", h));
  EXPECT_TRUE(match("priority = 7", h));
  EXPECT_TRUE(match("priority = 7.0", h));
  EXPECT_TRUE(match("price > 12", h));
  EXPECT_TRUE(match("price = 12.5", h));
  EXPECT_TRUE(match("big = 1000", h));
  EXPECT_TRUE(match("neg < 0", h));
  // Not a number: the comparison is false (unlike types), and so is its
  // opposite.
  EXPECT_FALSE(match("code > 4", h));
  EXPECT_FALSE(match("code <= 4", h));
  EXPECT_FALSE(match("code = 4", h));
  // Compared with a string, a header stays a string: '7' = 7 has no
  // conversion for a literal.
  EXPECT_TRUE(match("priority = '7'", h));
  EXPECT_FALSE(match("'7' = 7", h));
}

TEST(Selector, NumberConversionIsTheWholeText) {
  EXPECT_FALSE(match("n = 5", {{"n", " 5"}}));
  EXPECT_FALSE(match("n = 5", {{"n", "5 "}}));
  EXPECT_FALSE(match("n = 5", {{"n", "5x"}}));
  EXPECT_FALSE(match("n = 5", {{"n", "0x5"}}));
  EXPECT_TRUE(match("n = 5", {{"n", "+5"}}));
  EXPECT_TRUE(match("n = 0.5", {{"n", ".5"}}));
  EXPECT_FALSE(match("n = 0", {{"n", ""}}));
  EXPECT_FALSE(match("n = 0", {{"n", "-"}}));
  EXPECT_FALSE(match("n = 1", {{"n", "1e"}}));
}

TEST(Selector, HeaderAgainstHeaderComparesText) {
  EXPECT_TRUE(match("a = b", {{"a", "x"}, {"b", "x"}}));
  EXPECT_FALSE(match("a = b", {{"a", "1.0"}, {"b", "1"}}));
  EXPECT_TRUE(match("a < b", {{"a", "apple"}, {"b", "banana"}}));
  // ...but arithmetic makes both numbers.
  EXPECT_TRUE(match("a + 0 = b + 0", {{"a", "1.0"}, {"b", "1"}}));
}

TEST(Selector, NumericLiterals) {
  const Headers h{{"n", "255"}};
  EXPECT_TRUE(match("n = 0xFF", h));
  EXPECT_TRUE(match("n = 255L", h));
  EXPECT_TRUE(match("n = 2.55e2", h));
  EXPECT_TRUE(match("n = 2.55E+2", h));
  EXPECT_TRUE(match("n = 25500e-2", h));
  EXPECT_TRUE(match("n > .5", h));
  EXPECT_TRUE(match("n < 1.5e300", h));
  EXPECT_TRUE(match("n > -9223372036854775808", h));
  EXPECT_TRUE(match("n < 99999999999999999999", h));  // past 64 bits: a float
}

TEST(Selector, Arithmetic) {
  const Headers h{{"a", "6"}, {"b", "4"}, {"f", "1.5"}};
  EXPECT_TRUE(match("a + b = 10", h));
  EXPECT_TRUE(match("a - b = 2", h));
  EXPECT_TRUE(match("a * b = 24", h));
  EXPECT_TRUE(match("a / b = 1", h));  // integer division
  EXPECT_TRUE(match("a / 4.0 = 1.5", h));
  EXPECT_TRUE(match("a * f = 9", h));
  EXPECT_TRUE(match("-a = -6", h));
  EXPECT_TRUE(match("- -a = 6", h));
  EXPECT_TRUE(match("+a = 6", h));
  EXPECT_TRUE(match("a + b * 2 = 14", h));  // * before +
  EXPECT_TRUE(match("(a + b) * 2 = 20", h));
  EXPECT_TRUE(match("a - b - 1 = 1", h));  // left to right
  EXPECT_TRUE(match("a / b / 1 = 1", h));
  EXPECT_TRUE(match("9223372036854775807 + 1 > 0", h));  // overflow becomes a float
}

TEST(Selector, ArithmeticWithNullOrTextIsUnknown) {
  const Headers h{{"a", "6"}, {"t", "x"}};
  EXPECT_FALSE(match("missing + 1 = 1", h));
  EXPECT_FALSE(match("NOT (missing + 1 = 1)", h));
  EXPECT_TRUE(match("(missing + 1) IS NULL", h));
  EXPECT_TRUE(match("(t + 1) IS NULL", h));
  EXPECT_TRUE(match("(a / 0) IS NULL", h));
  EXPECT_TRUE(match("(a / 0.0) IS NULL", h));
}

TEST(Selector, NullComparisonsAreUnknown) {
  const Headers h{{"a", "1"}};
  EXPECT_FALSE(match("missing = 'x'", h));
  EXPECT_FALSE(match("missing <> 'x'", h));
  EXPECT_FALSE(match("NOT (missing = 'x')", h));
  EXPECT_FALSE(match("missing > 1", h));
  EXPECT_FALSE(match("NOT (missing > 1)", h));
}

TEST(Selector, ThreeValuedAnd) {
  const Headers h{{"t", "true"}, {"f", "false"}};
  EXPECT_TRUE(match("t AND t", h));
  EXPECT_FALSE(match("t AND f", h));
  EXPECT_FALSE(match("t AND missing", h));  // unknown
  EXPECT_FALSE(match("NOT (t AND missing)", h));  // still unknown
  EXPECT_TRUE(match("NOT (f AND missing)", h));  // false AND unknown = false
}

TEST(Selector, ThreeValuedOr) {
  const Headers h{{"t", "true"}, {"f", "false"}};
  EXPECT_TRUE(match("t OR missing", h));  // true OR unknown = true
  EXPECT_FALSE(match("f OR missing", h));  // unknown
  EXPECT_FALSE(match("NOT (f OR missing)", h));
  EXPECT_TRUE(match("NOT (f OR f)", h));
  EXPECT_TRUE(match("f OR f OR f OR t", h));
}

TEST(Selector, ThreeValuedNot) {
  const Headers h{{"t", "TRUE"}, {"x", "yes"}};
  EXPECT_FALSE(match("NOT t", h));
  EXPECT_TRUE(match("NOT NOT t", h));
  EXPECT_FALSE(match("NOT missing", h));
  EXPECT_FALSE(match("missing", h));
  // A header that is not a boolean is unknown where a condition is needed.
  EXPECT_FALSE(match("x", h));
  EXPECT_FALSE(match("NOT x", h));
}

TEST(Selector, BooleanLiteralsCompareWithBooleanHeaders) {
  const Headers h{{"persistent", "true"}};
  EXPECT_TRUE(match("persistent = TRUE", h));
  EXPECT_FALSE(match("persistent = FALSE", h));
  EXPECT_TRUE(match("persistent <> false", h));
  EXPECT_TRUE(match("TRUE = TRUE", h));
  EXPECT_FALSE(match("TRUE = 1", h));
}

TEST(Selector, Like) {
  const Headers h{{"name", "alice"}, {"path", "a_b%c"}};
  EXPECT_TRUE(match("name LIKE 'a%'", h));
  EXPECT_FALSE(match("name LIKE 'b%'", h));
  EXPECT_TRUE(match("name LIKE '_lice'", h));
  EXPECT_TRUE(match("name NOT LIKE 'b%'", h));
  EXPECT_FALSE(match("name NOT LIKE 'a%'", h));
  EXPECT_TRUE(match("path LIKE 'a\\_b\\%c' ESCAPE '\\'", h));
  EXPECT_FALSE(match("name LIKE 'a\\_ice' ESCAPE '\\'", h));
  EXPECT_TRUE(match("path LIKE 'a!_%' escape '!'", h));
}

TEST(Selector, LikeOnNullIsUnknown) {
  EXPECT_FALSE(match("missing LIKE '%'"));
  EXPECT_FALSE(match("missing NOT LIKE '%'"));
  EXPECT_FALSE(match("NOT (missing LIKE 'a')"));
}

TEST(Selector, In) {
  const Headers h{{"region", "eu"}, {"n", "3"}};
  EXPECT_TRUE(match("region IN ('eu', 'us')", h));
  EXPECT_FALSE(match("region IN ('asia')", h));
  EXPECT_TRUE(match("region NOT IN ('asia', 'us')", h));
  EXPECT_FALSE(match("region NOT IN ('eu')", h));
  EXPECT_TRUE(match("n IN (1, 2, 3)", h));
  EXPECT_TRUE(match("n in (-1, 3.0)", h));
  // NULL IN (...) and NULL NOT IN (...) are both unknown.
  EXPECT_FALSE(match("missing IN ('eu')", h));
  EXPECT_FALSE(match("missing NOT IN ('eu')", h));
}

TEST(Selector, Between) {
  const Headers h{{"n", "5"}, {"s", "m"}};
  EXPECT_TRUE(match("n BETWEEN 1 AND 9", h));
  EXPECT_TRUE(match("n BETWEEN 5 AND 5", h));
  EXPECT_FALSE(match("n BETWEEN 6 AND 9", h));
  EXPECT_TRUE(match("n NOT BETWEEN 6 AND 9", h));
  EXPECT_FALSE(match("n NOT BETWEEN 1 AND 9", h));
  EXPECT_TRUE(match("n BETWEEN 2 + 2 AND 3 * 2", h));
  EXPECT_TRUE(match("s BETWEEN 'a' AND 'z'", h));
  EXPECT_FALSE(match("missing BETWEEN 1 AND 9", h));
  EXPECT_FALSE(match("missing NOT BETWEEN 1 AND 9", h));
  EXPECT_TRUE(match("n BETWEEN 1 AND 9 AND n = 5", h));  // BETWEEN's AND binds first
}

TEST(Selector, IsNull) {
  const Headers h{{"a", ""}};
  EXPECT_TRUE(match("missing IS NULL", h));
  EXPECT_FALSE(match("missing IS NOT NULL", h));
  EXPECT_FALSE(match("a IS NULL", h));  // empty is a value
  EXPECT_TRUE(match("a IS NOT NULL", h));
}

TEST(Selector, JmsHeaderNamesReadStompHeaders) {
  const Headers h{{"priority", "7"},          {"type", "order"},       {"correlation-id", "c1"},
                  {"message-id", "m-1"},      {"timestamp", "1000"},   {"expires", "2000"},
                  {"JMSXGroupID", "g"},       {"persistent", "true"}};
  EXPECT_TRUE(match("JMSPriority > 4", h));
  EXPECT_TRUE(match("JMSType = 'order'", h));
  EXPECT_TRUE(match("JMSCorrelationID = 'c1'", h));
  EXPECT_TRUE(match("JMSMessageID = 'm-1'", h));
  EXPECT_TRUE(match("JMSTimestamp < JMSExpiration + 0", h));
  EXPECT_TRUE(match("JMSExpiration = 2000", h));
  EXPECT_TRUE(match("JMSXGroupID = 'g'", h));
  EXPECT_TRUE(match("JMSDeliveryMode = 'PERSISTENT'", h));
  EXPECT_TRUE(match("JMSDeliveryMode = 'NON_PERSISTENT'", {}));
  EXPECT_TRUE(match("JMSDeliveryMode = 'NON_PERSISTENT'", {{"persistent", "false"}}));
  // JMS names are case-sensitive like any identifier.
  EXPECT_TRUE(match("jmspriority IS NULL", h));
}

TEST(Selector, TypicalActiveMqSelectors) {
  const Headers order{{"type", "order"}, {"priority", "5"}, {"region", "us"}, {"name", "anna"}};
  EXPECT_TRUE(match("type = 'order' AND priority > 4", order));
  EXPECT_TRUE(match("type = 'order' AND (priority > 8 OR region IN ('eu','us'))", order));
  EXPECT_TRUE(match("name LIKE 'a%' AND NOT region = 'eu'", order));
  EXPECT_FALSE(match("type = 'order' AND priority > 5", order));
}

TEST(Selector, Precedence) {
  const Headers h{{"a", "1"}};
  // AND binds tighter than OR; NOT tighter than AND.
  EXPECT_TRUE(match("a = 1 OR a = 2 AND a = 3", h));
  EXPECT_FALSE(match("(a = 1 OR a = 2) AND a = 3", h));
  EXPECT_TRUE(match("NOT a = 2 AND a = 1", h));
}

TEST(Selector, BlankIsNoSelector) {
  for (std::string_view blank : {"", "   ", "\t\n"}) {
    auto r = Selector::parse(blank);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value(), nullptr);
  }
}

TEST(Selector, KeepsItsText) {
  auto r = Selector::parse("a = 1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value()->text(), "a = 1");
}

TEST(Selector, ErrorsNameThePosition) {
  ParseError e = error_of("type = 'order' AND (priority > 4");
  EXPECT_EQ(e.position, 33u);
  EXPECT_EQ(e.message(), "invalid selector at position 33: expected ')', found end of selector at position 33");
  EXPECT_EQ(e.detail, "expected ')', found end of selector at position 33");

  e = error_of("a = 'x");
  EXPECT_EQ(e.position, 5u);
  EXPECT_NE(e.message().find("closing quote"), std::string::npos) << e.message();

  e = error_of("a == 1");
  EXPECT_EQ(e.position, 4u) << e.message();

  e = error_of("a = 1 b = 2");
  EXPECT_EQ(e.position, 7u) << e.message();
  EXPECT_NE(e.message().find("expected AND, OR or end of selector"), std::string::npos) << e.message();

  e = error_of("a = 1)");
  EXPECT_EQ(e.position, 6u) << e.message();

  e = error_of("a IN ()");
  EXPECT_EQ(e.position, 7u) << e.message();

  e = error_of("a LIKE b");
  EXPECT_EQ(e.position, 8u) << e.message();

  e = error_of("a LIKE 'x' ESCAPE 'ab'");
  EXPECT_EQ(e.position, 19u) << e.message();

  e = error_of("a LIKE 'x!' ESCAPE '!'");
  EXPECT_EQ(e.position, 8u) << e.message();

  e = error_of("a BETWEEN 1 OR 2");
  EXPECT_EQ(e.position, 13u) << e.message();

  e = error_of("a IS 5");
  EXPECT_EQ(e.position, 6u) << e.message();
}

TEST(Selector, PositionsCountCharactersNotBytes) {
  ParseError e = error_of("a = '\xC3\xA9' =");
  // a␣=␣'é'␣= : the second '=' is the 9th character (10th byte).
  EXPECT_EQ(e.position, 9u) << e.message();
}

TEST(Selector, RefusedForms) {
  error_of("a = \"x\"");
  error_of("a != 1");
  error_of("a = 1 = 2");
  error_of("a = NULL");
  error_of("1");
  error_of("'x'");
  error_of("a + 1");
  error_of("a = 1 AND 5");
  error_of("NOT 5");
  error_of("a NOT = 1");
  error_of("1e");
  error_of("0x");
  error_of("12abc = 1");
  error_of("a = 1 AND");
  error_of("(");
  error_of("a IN ('x',)");
  error_of("a IN (b)");
  error_of("#");
}

TEST(Selector, LengthIsBounded) {
  std::string ok = "a = '" + std::string(Selector::kMaxLength - 6, 'x') + "'";
  ASSERT_EQ(ok.size(), Selector::kMaxLength);
  EXPECT_TRUE(Selector::parse(ok).ok());
  ParseError e = error_of(ok + " ");
  EXPECT_EQ(e.position, Selector::kMaxLength + 1);
  EXPECT_NE(e.message().find("longer than 4096"), std::string::npos);
}

TEST(Selector, NestingIsBounded) {
  auto nested = [](std::size_t n) { return std::string(n, '(') + "a = 1" + std::string(n, ')'); };
  EXPECT_TRUE(Selector::parse(nested(Selector::kMaxDepth)).ok());
  ParseError e = error_of(nested(Selector::kMaxDepth + 1));
  EXPECT_EQ(e.position, Selector::kMaxDepth + 1);
  EXPECT_NE(e.message().find("nested more than 64"), std::string::npos) << e.message();

  std::string nots;
  for (int i = 0; i < 2000; ++i) nots += "NOT ";
  EXPECT_FALSE(Selector::parse(nots + "a = 1").ok());
  EXPECT_FALSE(Selector::parse(std::string(4000, '-') + "a = 1").ok());
  EXPECT_FALSE(Selector::parse(std::string(4000, '(')).ok());
}

TEST(Selector, LongChainsAreFlatOrBounded) {
  // OR/AND chains are flat: a long one is fine.
  std::string ors = "a = 0";
  for (int i = 1; i < 300; ++i) ors += " OR a = " + std::to_string(i);
  EXPECT_TRUE(match(ors, {{"a", "299"}}));
  // An arithmetic chain is a tree: bounded by kMaxHeight.
  std::string sum = "a";
  for (int i = 0; i < 1000; ++i) sum += "+1";
  ParseError e = error_of(sum + " = 1");
  EXPECT_NE(e.message().find("deep"), std::string::npos) << e.message();
}

}  // namespace
}  // namespace ferry::selector
