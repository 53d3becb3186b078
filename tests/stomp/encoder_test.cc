#include "stomp/encoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "feed.h"

namespace ferry::stomp {
namespace {

using testing::bytes;
using testing::feed_every_way;
using testing::frame;
using testing::kAllVersions;
using testing::Outcome;
using testing::ParsedFrame;

TEST(EncoderTest, WritesFrameInParts) {
  std::string out;
  Encoder::begin_frame(out, Command::kMessage);
  Encoder::add_header(out, "destination", "/queue/a", Version::k1_2, Command::kMessage);
  Encoder::add_header(out, "message-id", "7", Version::k1_2, Command::kMessage);
  Encoder::end_headers(out, 5);
  out += "hello";
  Encoder::end_frame(out);
  EXPECT_EQ(out, bytes("MESSAGE\ndestination:/queue/a\nmessage-id:7\ncontent-length:5\n\nhello\0\n"));
}

TEST(EncoderTest, EndHeadersWithoutLength) {
  std::string out;
  Encoder::begin_frame(out, Command::kReceipt);
  Encoder::add_header(out, "receipt-id", "r1", Version::k1_2, Command::kReceipt);
  Encoder::end_headers(out, 0, false);
  Encoder::end_frame(out);
  EXPECT_EQ(out, bytes("RECEIPT\nreceipt-id:r1\n\n\0\n"));
}

TEST(EncoderTest, WritesZeroContentLength) {
  std::string out;
  Encoder::end_headers(out, 0);
  EXPECT_EQ(out, "content-length:0\n\n");
}

TEST(EncoderTest, AppendsAfterExistingBytes) {
  std::string out = bytes("RECEIPT\n\n\0");
  Encoder::begin_frame(out, Command::kError);
  Encoder::end_headers(out, 0, false);
  Encoder::end_frame(out);
  EXPECT_EQ(out, bytes("RECEIPT\n\n\0ERROR\n\n\0\n"));
}

TEST(EncoderTest, EscapesHeadersPerVersion) {
  auto header = [](Version v, Command c) {
    std::string out;
    Encoder::add_header(out, "k:\n", "v\\\r:", v, c);
    return out;
  };
  EXPECT_EQ(header(Version::k1_2, Command::kMessage), "k\\c\\n:v\\\\\\r\\c\n");
  EXPECT_EQ(header(Version::k1_1, Command::kMessage), "k\\c\\n:v\\\\\r\\c\n");
  EXPECT_EQ(header(Version::k1_0, Command::kMessage), "k: :v\\ :\n");
}

TEST(EncoderTest, NeverEscapesConnected) {
  for (const Version v : kAllVersions) {
    std::string out;
    Encoder::add_header(out, "server", "ferry/0.1 a:b\\c", v, Command::kConnected);
    EXPECT_EQ(out, "server:ferry/0.1 a:b\\c\n");
    // Still well formed: a line break cannot leak into the frame.
    out.clear();
    Encoder::add_header(out, "x", "a\nb", v, Command::kConnected);
    EXPECT_EQ(out, "x:a b\n");
  }
}

TEST(EncoderTest, EncodeWritesWholeFrameWithContentLength) {
  std::string out;
  const Header headers[] = {{"destination", "/q"}, {"content-length", "999"}, {"x", "a:b"}};
  Encoder::encode(out, Command::kMessage, headers, bytes("b\0dy"), Version::k1_2);
  // The caller's content-length is replaced by the true one.
  EXPECT_EQ(out, bytes("MESSAGE\ndestination:/q\nx:a\\cb\ncontent-length:4\n\nb\0dy\0\n"));
}

// Encodes, then parses every way; what comes back is what went in, plus
// the content-length header the encoder adds.
ParsedFrame round_trip(Command c, const std::vector<Header>& headers, std::string_view body,
                       Version v) {
  std::string wire;
  Encoder::encode(wire, c, headers, body, v);
  const Outcome o = feed_every_way(wire, Limits{}, v);
  EXPECT_EQ(o.error, ParseError::kNone) << o;
  EXPECT_EQ(o.frames.size(), 1u) << o;
  return o.frames.empty() ? ParsedFrame{} : o.frames.front();
}

TEST(EncoderTest, RoundTripsThroughParserInEveryVersion) {
  const std::string body = bytes("binary\0body\n\0with NULs\0");
  for (const Version v : {Version::k1_1, Version::k1_2}) {
    SCOPED_TRACE(std::string(to_string(v)));
    EXPECT_EQ(round_trip(Command::kMessage,
                         {{"destination", "/topic/a:b"}, {"weird\nname", "x\\y:z\nw"},
                          {"empty", ""}, {"dup", "1"}, {"dup", "2"}},
                         body, v),
              frame(Command::kMessage,
                    {{"destination", "/topic/a:b"}, {"weird\nname", "x\\y:z\nw"}, {"empty", ""},
                     {"dup", "1"}, {"dup", "2"}, {"content-length", std::to_string(body.size())}},
                    body));
  }
  // 1.0 cannot escape: only text without line breaks survives, but colons in
  // values and backslashes do.
  EXPECT_EQ(round_trip(Command::kMessage, {{"destination", "/q:1"}, {"b", "\\n"}}, body,
                       Version::k1_0),
            frame(Command::kMessage,
                  {{"destination", "/q:1"}, {"b", "\\n"},
                   {"content-length", std::to_string(body.size())}},
                  body));
}

TEST(EncoderTest, RoundTripsCrOnlyIn12) {
  EXPECT_EQ(round_trip(Command::kError, {{"message", "a\rb\r"}}, "", Version::k1_2),
            frame(Command::kError, {{"message", "a\rb\r"}, {"content-length", "0"}}));
  EXPECT_EQ(round_trip(Command::kError, {{"message", "a\rb\r"}}, "", Version::k1_1),
            frame(Command::kError, {{"message", "a\rb "}, {"content-length", "0"}}));
}

TEST(EncoderTest, RoundTripsEveryCommand) {
  for (int i = 0; i <= static_cast<int>(Command::kError); ++i) {
    const auto c = static_cast<Command>(i);
    for (const Version v : kAllVersions) {
      EXPECT_EQ(round_trip(c, {{"id", "1"}}, "x", v),
                frame(c, {{"id", "1"}, {"content-length", "1"}}, "x"));
    }
  }
}

TEST(EncoderTest, ConnectedRoundTripsUnescaped) {
  // The parser does not unescape CONNECTED either: colons and backslashes
  // survive as they are.
  EXPECT_EQ(round_trip(Command::kConnected, {{"server", "ferry\\1:0"}, {"version", "1.2"}}, "",
                       Version::k1_2),
            frame(Command::kConnected,
                  {{"server", "ferry\\1:0"}, {"version", "1.2"}, {"content-length", "0"}}));
}

}  // namespace
}  // namespace ferry::stomp
