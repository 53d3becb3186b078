#include "stomp/escaping.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry::stomp {
namespace {

// Unescapes a copy of `text`; the result, or nullopt on kInvalidEscape.
std::optional<std::string> unescape(std::string text, Version v) {
  const UnescapeResult r = unescape_in_place(text.data(), text.size(), v);
  if (r.error != ParseError::kNone) {
    EXPECT_EQ(r.error, ParseError::kInvalidEscape);
    return std::nullopt;
  }
  EXPECT_LE(r.length, text.size());
  text.resize(r.length);
  return text;
}

std::string escaped(std::string_view text, Version v) {
  std::string out;
  append_escaped(out, text, v);
  return out;
}

TEST(EscapingTest, Version10EscapesNoFrame) {
  for (int c = 0; c <= static_cast<int>(Command::kError); ++c) {
    EXPECT_FALSE(escapes_headers(Version::k1_0, static_cast<Command>(c)));
  }
}

TEST(EscapingTest, ConnectStompConnectedAreNeverEscaped) {
  for (const Version v : {Version::k1_0, Version::k1_1, Version::k1_2}) {
    EXPECT_FALSE(escapes_headers(v, Command::kConnect));
    EXPECT_FALSE(escapes_headers(v, Command::kStomp));
    EXPECT_FALSE(escapes_headers(v, Command::kConnected));
  }
}

TEST(EscapingTest, Versions11And12EscapeEveryOtherFrame) {
  for (const Version v : {Version::k1_1, Version::k1_2}) {
    for (const Command c : {Command::kSend, Command::kSubscribe, Command::kUnsubscribe,
                            Command::kAck, Command::kNack, Command::kBegin, Command::kCommit,
                            Command::kAbort, Command::kDisconnect, Command::kMessage,
                            Command::kReceipt, Command::kError}) {
      EXPECT_TRUE(escapes_headers(v, c)) << to_string(c);
    }
  }
}

TEST(EscapingTest, Version10UnescapesNothing) {
  EXPECT_EQ(unescape("a\\nb\\c\\\\\\r\\t\\", Version::k1_0), "a\\nb\\c\\\\\\r\\t\\");
}

TEST(EscapingTest, Version11Unescapes) {
  EXPECT_EQ(unescape("\\n", Version::k1_1), "\n");
  EXPECT_EQ(unescape("\\c", Version::k1_1), ":");
  EXPECT_EQ(unescape("\\\\", Version::k1_1), "\\");
  EXPECT_EQ(unescape("a\\nb\\cc\\\\d", Version::k1_1), "a\nb:c\\d");
  EXPECT_EQ(unescape("\\\\n", Version::k1_1), "\\n");  // escaped backslash, then 'n'
  EXPECT_EQ(unescape("\\\\\\\\", Version::k1_1), "\\\\");
  EXPECT_EQ(unescape("", Version::k1_1), "");
  EXPECT_EQ(unescape("plain text", Version::k1_1), "plain text");
}

TEST(EscapingTest, Version11HasNoCrEscape) {
  EXPECT_EQ(unescape("\\r", Version::k1_1), std::nullopt);
}

TEST(EscapingTest, Version12Unescapes) {
  EXPECT_EQ(unescape("\\r", Version::k1_2), "\r");
  EXPECT_EQ(unescape("\\n", Version::k1_2), "\n");
  EXPECT_EQ(unescape("\\c", Version::k1_2), ":");
  EXPECT_EQ(unescape("\\\\", Version::k1_2), "\\");
  EXPECT_EQ(unescape("x\\r\\ny\\c\\\\z", Version::k1_2), "x\r\ny:\\z");
}

TEST(EscapingTest, RejectsUndefinedSequences) {
  for (const Version v : {Version::k1_1, Version::k1_2}) {
    EXPECT_EQ(unescape("\\t", v), std::nullopt);
    EXPECT_EQ(unescape("\\N", v), std::nullopt);
    EXPECT_EQ(unescape("\\ ", v), std::nullopt);
    EXPECT_EQ(unescape("\\:", v), std::nullopt);
    EXPECT_EQ(unescape("ok\\", v), std::nullopt);  // trailing lone backslash
    EXPECT_EQ(unescape("\\", v), std::nullopt);
    EXPECT_EQ(unescape("\\\\\\", v), std::nullopt);
    EXPECT_EQ(unescape(std::string("\\\0", 2), v), std::nullopt);
  }
}

TEST(EscapingTest, UnescapesInPlace) {
  char text[] = "ab\\ncd";
  const UnescapeResult r = unescape_in_place(text, 6, Version::k1_1);
  ASSERT_EQ(r.error, ParseError::kNone);
  EXPECT_EQ(std::string_view(text, r.length), "ab\ncd");
}

TEST(EscapingTest, Version10ReplacesLineBreaksBySpaces) {
  EXPECT_EQ(escaped("a\nb\rc:d\\e", Version::k1_0), "a b c:d\\e");
}

TEST(EscapingTest, Version11Escapes) {
  EXPECT_EQ(escaped("a\nb:c\\d", Version::k1_1), "a\\nb\\cc\\\\d");
  // No CR escape in 1.1: raw inside, a space at the end (it would merge
  // with the line's LF into CRLF).
  EXPECT_EQ(escaped("a\rb", Version::k1_1), "a\rb");
  EXPECT_EQ(escaped("ab\r", Version::k1_1), "ab ");
}

TEST(EscapingTest, Version12Escapes) {
  EXPECT_EQ(escaped("\r\n:\\", Version::k1_2), "\\r\\n\\c\\\\");
  EXPECT_EQ(escaped("plain", Version::k1_2), "plain");
}

TEST(EscapingTest, AppendsWithoutClearing) {
  std::string out = "keep:";
  append_escaped(out, "x:y", Version::k1_2);
  EXPECT_EQ(out, "keep:x\\cy");
}

TEST(EscapingTest, EscapeThenUnescapeRoundTrips) {
  const std::string samples[] = {"", "plain", ":", "\\", "\n", "a:b\\c\nd", "\\n", "\\\\c::",
                                 std::string("nul\0inside", 10), "\xc3\xa9t\xc3\xa9"};
  for (const Version v : {Version::k1_1, Version::k1_2}) {
    for (const std::string& s : samples) {
      EXPECT_EQ(unescape(escaped(s, v), v), s);
    }
  }
  EXPECT_EQ(unescape(escaped("a\r\nb\r", Version::k1_2), Version::k1_2), "a\r\nb\r");
}

}  // namespace
}  // namespace ferry::stomp
