#include "net/websocket/message_framer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ferry::net::websocket {
namespace {

// A string literal's bytes, embedded NULs included.
template <std::size_t N>
std::string lit(const char (&s)[N]) {
  return std::string(s, N - 1);
}

struct Message {
  std::uint8_t opcode;
  bool fin;
  std::string payload;
};

// Parses server frames (unmasked) out of the written bytes.
std::vector<Message> parse_wire(const std::string& wire) {
  std::vector<Message> out;
  std::size_t at = 0;
  while (at < wire.size()) {
    const auto b0 = static_cast<unsigned char>(wire[at]);
    const auto b1 = static_cast<unsigned char>(wire[at + 1]);
    EXPECT_EQ(b1 & 0x80, 0);
    std::uint64_t len = b1 & 0x7F;
    at += 2;
    if (len == 126) {
      len = (static_cast<unsigned char>(wire[at]) << 8) | static_cast<unsigned char>(wire[at + 1]);
      at += 2;
    } else if (len == 127) {
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<unsigned char>(wire[at + i]);
      at += 8;
    }
    out.push_back({static_cast<std::uint8_t>(b0 & 0x0F), (b0 & 0x80) != 0, wire.substr(at, len)});
    at += len;
  }
  return out;
}

std::string gather(const std::vector<boost::asio::const_buffer>& bufs) {
  std::string s;
  for (const auto& b : bufs) s.append(static_cast<const char*>(b.data()), b.size());
  return s;
}

// Frames `pieces` (as one batch of buffers) and returns the messages.
std::vector<Message> frame(MessageFramer& f, const std::vector<std::string>& pieces) {
  std::vector<boost::asio::const_buffer> in, out;
  for (const auto& p : pieces) in.emplace_back(p.data(), p.size());
  f.frame(in, out);
  return parse_wire(gather(out));
}

const std::string kConnected = lit("CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0");
const std::string kMessage = lit("MESSAGE\ndestination:/queue/a\ncontent-length:5\n\nhe\0lo\0");
const std::string kError = lit("ERROR\nmessage:bad\n\nsome text\0");

TEST(MessageFramerTest, OneStompFramePerMessage) {
  MessageFramer f;
  auto m = frame(f, {kConnected + kMessage + kError});
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].payload, kConnected);
  EXPECT_EQ(m[1].payload, kMessage);  // the NUL in the body does not end it (content-length)
  EXPECT_EQ(m[2].payload, kError);    // no content-length: up to the NUL
  for (const auto& x : m) EXPECT_TRUE(x.fin);
  EXPECT_FALSE(f.mid_message());
}

TEST(MessageFramerTest, EveryPieceSplit) {
  // Frames cut across buffers at every offset give the same messages.
  const std::string all = kConnected + kMessage + kError;
  for (std::size_t i = 1; i < all.size(); ++i) {
    for (std::size_t j = i; j < all.size(); j += 7) {
      SCOPED_TRACE(std::to_string(i) + "," + std::to_string(j));
      MessageFramer f;
      auto m = frame(f, {all.substr(0, i), all.substr(i, j - i), all.substr(j)});
      ASSERT_EQ(m.size(), 3u);
      EXPECT_EQ(m[0].payload, kConnected);
      EXPECT_EQ(m[1].payload, kMessage);
      EXPECT_EQ(m[2].payload, kError);
    }
  }
}

TEST(MessageFramerTest, HeartBeatsAreMessagesOfTheirOwn) {
  MessageFramer f;
  auto m = frame(f, {"\n", kConnected + "\n", "\n"});
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].payload, "\n");
  EXPECT_EQ(m[1].payload, kConnected + "\n");  // the frame's own EOL
  EXPECT_EQ(m[2].payload, "\n");               // a heart-beat after it
  m = frame(f, {"\r\n"});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].payload, "\r\n");
}

// The encoder writes an EOL after each NUL; it goes in the frame's message,
// as RabbitMQ Web-STOMP sends it (issue 17.2: it was a message of its own).
TEST(MessageFramerTest, TrailingEolInTheFramesMessage) {
  MessageFramer f;
  auto m = frame(f, {kConnected + "\n" + kMessage + "\n" + kError + "\r\n"});
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].payload, kConnected + "\n");
  EXPECT_EQ(m[1].payload, kMessage + "\n");
  EXPECT_EQ(m[2].payload, kError + "\r\n");
  for (const auto& x : m) EXPECT_TRUE(x.fin);
  EXPECT_FALSE(f.mid_message());
}

TEST(MessageFramerTest, TrailingEolAcrossBuffers) {
  // Every cut of frame+EOL+frame+EOL+heart-beat into three buffers of one call.
  const std::string all = kMessage + "\n" + kError + "\r\n" + "\n";
  for (std::size_t i = 1; i < all.size(); ++i) {
    for (std::size_t j = i; j < all.size(); ++j) {
      SCOPED_TRACE(std::to_string(i) + "," + std::to_string(j));
      MessageFramer f;
      auto m = frame(f, {all.substr(0, i), all.substr(i, j - i), all.substr(j)});
      ASSERT_EQ(m.size(), 3u);
      EXPECT_EQ(m[0].payload, kMessage + "\n");
      EXPECT_EQ(m[1].payload, kError + "\r\n");
      EXPECT_EQ(m[2].payload, "\n");
      EXPECT_FALSE(f.mid_message());
    }
  }
}

TEST(MessageFramerTest, FrameEndingACallIsComplete) {
  // A NUL at the end of a call ends the message (no fragment left open);
  // an EOL in the next call is then a heart-beat.
  MessageFramer f;
  auto m = frame(f, {kError});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_TRUE(m[0].fin);
  EXPECT_FALSE(f.mid_message());
  m = frame(f, {"\n"});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].payload, "\n");
}

TEST(MessageFramerTest, TextUnlessNotUtf8) {
  MessageFramer f;
  std::string utf8 = lit("MESSAGE\ncontent-length:4\n\n\xc3\xa9t\xc3\0");
  std::string good = lit("MESSAGE\ncontent-length:5\n\n\xc3\xa9t\xc3\xa9\0");
  auto m = frame(f, {kMessage, good, utf8});
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].opcode, 0x1);  // NUL bytes are valid UTF-8
  EXPECT_EQ(m[1].opcode, 0x1);
  EXPECT_EQ(m[2].opcode, 0x2);  // a cut sequence is not
  EXPECT_EQ(m[2].payload, utf8);
}

TEST(MessageFramerTest, AFrameLeftOpenIsFragmented) {
  MessageFramer f;
  auto m = frame(f, {kConnected + kMessage.substr(0, 20)});
  ASSERT_EQ(m.size(), 2u);
  EXPECT_TRUE(m[0].fin);
  EXPECT_FALSE(m[1].fin);
  EXPECT_EQ(m[1].opcode, 0x2);
  EXPECT_TRUE(f.mid_message());
  m = frame(f, {kMessage.substr(20) + kError});
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].opcode, 0x0);
  EXPECT_TRUE(m[0].fin);
  EXPECT_EQ(m[0].payload, kMessage.substr(20));
  EXPECT_EQ(m[1].payload, kError);
  EXPECT_FALSE(f.mid_message());
}

TEST(MessageFramerTest, LargeBodyByReference) {
  std::string body(100000, 'b');
  std::string head = "MESSAGE\ndestination:/queue/a\ncontent-length:100000\n\n";
  MessageFramer f;
  auto m = frame(f, {head, body, std::string("\0", 1)});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].payload.size(), head.size() + body.size() + 1);
}

TEST(Utf8ValidatorTest, Rules) {
  auto valid = [](std::string s) {
    Utf8Validator v;
    v.feed(reinterpret_cast<const unsigned char*>(s.data()), s.size());
    return v.valid();
  };
  EXPECT_TRUE(valid("plain"));
  EXPECT_TRUE(valid("\xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(valid("\xc0\xaf"));          // overlong
  EXPECT_FALSE(valid("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(valid("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(valid("\xe2\x82"));          // cut
  EXPECT_FALSE(valid("\x80"));
}

}  // namespace
}  // namespace ferry::net::websocket
