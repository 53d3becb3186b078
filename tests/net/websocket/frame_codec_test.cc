#include "net/websocket/frame_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ferry::net::websocket {
namespace {

// A string literal's bytes, embedded NULs included.
template <std::size_t N>
std::string lit(const char (&s)[N]) {
  return std::string(s, N - 1);
}

constexpr unsigned char kMask[4] = {0x37, 0xfa, 0x21, 0x3d};

// A client frame: masked unless told otherwise.
std::string client_frame(Opcode op, std::string_view payload, bool fin = true, bool masked = true,
                         std::uint8_t rsv = 0) {
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | rsv | static_cast<std::uint8_t>(op)));
  const std::uint8_t m = masked ? 0x80 : 0;
  if (payload.size() < 126) {
    out.push_back(static_cast<char>(m | payload.size()));
  } else if (payload.size() <= 0xFFFF) {
    out.push_back(static_cast<char>(m | 126));
    out.push_back(static_cast<char>(payload.size() >> 8));
    out.push_back(static_cast<char>(payload.size() & 0xFF));
  } else {
    out.push_back(static_cast<char>(m | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((std::uint64_t{payload.size()} >> (8 * i)) & 0xFF));
  }
  if (masked) out.append(reinterpret_cast<const char*>(kMask), 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    out.push_back(masked ? static_cast<char>(payload[i] ^ kMask[i & 3]) : payload[i]);
  return out;
}

struct Decoded {
  std::string payload;
  std::vector<std::string> pongs;
  bool error = false;
  CloseCode code = CloseCode::kNormal;
  bool closed = false;
  std::uint16_t close_code = 0;
};

// Feeds `wire` in pieces cut at `cuts` (offsets), collecting what comes out.
Decoded decode_cut(const std::string& wire, const std::vector<std::size_t>& cuts,
                   std::uint64_t max = 1 << 20) {
  FrameDecoder d(max);
  Decoded out;
  std::size_t at = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(wire.size());
  for (std::size_t end : ends) {
    std::string chunk = wire.substr(at, end - at);
    at = end;
    auto r = d.decode(std::span<char>(chunk.data(), chunk.size()));
    out.payload.append(chunk.data(), r.payload);
    std::string ping;
    if (d.take_ping(ping)) out.pongs.push_back(ping);
    if (r.status == FrameDecoder::Status::kError) {
      out.error = true;
      out.code = d.error_code();
      break;
    }
  }
  out.closed = d.closed();
  out.close_code = d.close_code();
  return out;
}

// Every way: whole, byte by byte, split at every offset (one and two cuts
// for short inputs): the result must not depend on how bytes arrive.
void expect_every_way(const std::string& wire, const std::function<void(const Decoded&)>& check,
                      std::uint64_t max = 1 << 20) {
  {
    SCOPED_TRACE("whole");
    check(decode_cut(wire, {}, max));
  }
  {
    SCOPED_TRACE("byte by byte");
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
    check(decode_cut(wire, cuts, max));
  }
  for (std::size_t i = 1; i < wire.size(); ++i) {
    SCOPED_TRACE("split at " + std::to_string(i));
    check(decode_cut(wire, {i}, max));
  }
  if (wire.size() <= 64) {
    for (std::size_t i = 1; i < wire.size(); ++i)
      for (std::size_t j = i + 1; j < wire.size(); ++j) {
        SCOPED_TRACE("split at " + std::to_string(i) + "," + std::to_string(j));
        check(decode_cut(wire, {i, j}, max));
      }
  }
}

const std::string kSend = lit("SEND\ndestination:/queue/a\n\nhello\0");

TEST(FrameDecoderTest, TextFrameUnmasked) {
  expect_every_way(client_frame(Opcode::kText, kSend), [](const Decoded& d) {
    EXPECT_FALSE(d.error);
    EXPECT_EQ(d.payload, kSend);
  });
}

TEST(FrameDecoderTest, BinaryFrameWithZeroBytes) {
  std::string body("a\0b\0\xff\xfe", 6);
  expect_every_way(client_frame(Opcode::kBinary, body), [&](const Decoded& d) {
    EXPECT_FALSE(d.error);
    EXPECT_EQ(d.payload, body);
  });
}

TEST(FrameDecoderTest, SeveralMessagesAreOneStream) {
  // A STOMP frame split across two messages, then two frames in one.
  std::string wire = client_frame(Opcode::kText, kSend.substr(0, 10)) + client_frame(Opcode::kText, kSend.substr(10)) +
                     client_frame(Opcode::kBinary, kSend + kSend);
  expect_every_way(wire, [](const Decoded& d) {
    EXPECT_FALSE(d.error);
    EXPECT_EQ(d.payload, kSend + kSend + kSend);
  });
}

TEST(FrameDecoderTest, FragmentedMessage) {
  std::string wire = client_frame(Opcode::kText, "SEND\n", false) + client_frame(Opcode::kContinuation, "\n", false) +
                     client_frame(Opcode::kContinuation, lit("x\0"), true);
  expect_every_way(wire, [](const Decoded& d) {
    EXPECT_FALSE(d.error);
    EXPECT_EQ(d.payload, lit("SEND\n\nx\0"));
  });
}

TEST(FrameDecoderTest, PingBetweenFragmentsIsAnswered) {
  std::string wire = client_frame(Opcode::kText, "ab", false) + client_frame(Opcode::kPing, "p1") +
                     client_frame(Opcode::kContinuation, "cd", true);
  expect_every_way(wire, [](const Decoded& d) {
    EXPECT_FALSE(d.error);
    EXPECT_EQ(d.payload, "abcd");
    ASSERT_EQ(d.pongs.size(), 1u);
    EXPECT_EQ(d.pongs[0], "p1");
  });
}

TEST(FrameDecoderTest, OnlyTheLatestPingIsAnswered) {
  std::string wire = client_frame(Opcode::kPing, "1") + client_frame(Opcode::kPing, "2");
  auto d = decode_cut(wire, {});
  ASSERT_EQ(d.pongs.size(), 1u);
  EXPECT_EQ(d.pongs[0], "2");
}

TEST(FrameDecoderTest, PongIsIgnored) {
  expect_every_way(client_frame(Opcode::kPong, "x") + client_frame(Opcode::kText, "y"), [](const Decoded& d) {
    EXPECT_FALSE(d.error);
    EXPECT_EQ(d.payload, "y");
    EXPECT_TRUE(d.pongs.empty());
  });
}

TEST(FrameDecoderTest, CloseEndsDecoding) {
  std::string wire = client_frame(Opcode::kText, "a") + client_frame(Opcode::kClose, lit("\x03\xe8" "bye")) +
                     client_frame(Opcode::kText, "ignored");
  expect_every_way(wire, [](const Decoded& d) {
    EXPECT_FALSE(d.error);
    EXPECT_EQ(d.payload, "a");
    EXPECT_TRUE(d.closed);
    EXPECT_EQ(d.close_code, 1000);
  });
}

TEST(FrameDecoderTest, CloseWithoutCode) {
  auto d = decode_cut(client_frame(Opcode::kClose, ""), {});
  EXPECT_TRUE(d.closed);
  EXPECT_EQ(d.close_code, 1005);
}

TEST(FrameDecoderTest, LengthEncodings) {
  for (std::size_t n : {0u, 1u, 125u, 126u, 127u, 65535u, 65536u, 70000u}) {
    SCOPED_TRACE(n);
    std::string payload(n, 'x');
    for (std::size_t i = 0; i < n; ++i) payload[i] = static_cast<char>('a' + i % 26);
    std::string wire = client_frame(Opcode::kBinary, payload);
    auto d = decode_cut(wire, {});
    EXPECT_FALSE(d.error);
    EXPECT_EQ(d.payload, payload);
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < std::min<std::size_t>(wire.size(), 20); ++i) cuts.push_back(i);
    d = decode_cut(wire, cuts);
    EXPECT_EQ(d.payload, payload);
  }
}

void expect_error_every_way(const std::string& wire, CloseCode code, std::uint64_t max = 1 << 20) {
  expect_every_way(wire, [code](const Decoded& d) {
    EXPECT_TRUE(d.error);
    EXPECT_EQ(d.code, code);
  }, max);
}

TEST(FrameDecoderTest, UnmaskedFrameIsAProtocolError) {
  expect_error_every_way(client_frame(Opcode::kText, "hi", true, false), CloseCode::kProtocolError);
}

TEST(FrameDecoderTest, ReservedBitsAreAProtocolError) {
  expect_error_every_way(client_frame(Opcode::kText, "hi", true, true, 0x40), CloseCode::kProtocolError);
}

TEST(FrameDecoderTest, UnknownOpcodeIsAProtocolError) {
  expect_error_every_way(client_frame(static_cast<Opcode>(0x3), "hi"), CloseCode::kProtocolError);
  expect_error_every_way(client_frame(static_cast<Opcode>(0xB), "hi"), CloseCode::kProtocolError);
}

TEST(FrameDecoderTest, FragmentRulesAreEnforced) {
  expect_error_every_way(client_frame(Opcode::kContinuation, "x"), CloseCode::kProtocolError);
  expect_error_every_way(client_frame(Opcode::kText, "x", false) + client_frame(Opcode::kText, "y"),
                         CloseCode::kProtocolError);
  expect_error_every_way(client_frame(Opcode::kPing, "x", false), CloseCode::kProtocolError);
  expect_error_every_way(client_frame(Opcode::kPing, std::string(126, 'p')), CloseCode::kProtocolError);
  expect_error_every_way(client_frame(Opcode::kClose, "x"), CloseCode::kProtocolError);
}

TEST(FrameDecoderTest, MessageSizeIsBounded) {
  // max 10: one frame of 11, or fragments adding up to 11.
  expect_error_every_way(client_frame(Opcode::kText, std::string(11, 'x')), CloseCode::kTooBig, 10);
  expect_error_every_way(client_frame(Opcode::kText, std::string(6, 'x'), false) +
                             client_frame(Opcode::kContinuation, std::string(5, 'x')),
                         CloseCode::kTooBig, 10);
  // Exactly the limit passes; the count restarts with each message.
  expect_every_way(client_frame(Opcode::kText, std::string(10, 'x')) + client_frame(Opcode::kText, std::string(10, 'y')),
                   [](const Decoded& d) {
                     EXPECT_FALSE(d.error);
                     EXPECT_EQ(d.payload.size(), 20u);
                   }, 10);
}

TEST(FrameDecoderTest, HugeDeclaredLengthFailsBeforeAnyPayload) {
  std::string wire;
  wire.push_back(static_cast<char>(0x82));
  wire.push_back(static_cast<char>(0x80 | 127));
  for (int i = 0; i < 8; ++i) wire.push_back(i == 0 ? '\x7f' : '\xff');
  wire.append(reinterpret_cast<const char*>(kMask), 4);
  auto d = decode_cut(wire, {});
  EXPECT_TRUE(d.error);
  EXPECT_EQ(d.code, CloseCode::kTooBig);
  wire[2] = '\xff';  // top bit set
  d = decode_cut(wire, {});
  EXPECT_TRUE(d.error);
  EXPECT_EQ(d.code, CloseCode::kProtocolError);
}

TEST(FrameDecoderTest, StaysFailed) {
  FrameDecoder d(100);
  std::string bad = client_frame(Opcode::kText, "x", true, false);
  EXPECT_EQ(d.decode(std::span<char>(bad.data(), bad.size())).status, FrameDecoder::Status::kError);
  std::string good = client_frame(Opcode::kText, "x");
  EXPECT_EQ(d.decode(std::span<char>(good.data(), good.size())).status, FrameDecoder::Status::kError);
}

TEST(FrameEncoderTest, HeaderSizes) {
  std::string h;
  append_frame_header(h, Opcode::kText, true, 5);
  EXPECT_EQ(h, std::string("\x81\x05", 2));
  h.clear();
  append_frame_header(h, Opcode::kBinary, false, 300);
  EXPECT_EQ(h, std::string("\x02\x7e\x01\x2c", 4));
  h.clear();
  append_frame_header(h, Opcode::kContinuation, true, 70000);
  EXPECT_EQ(h, std::string("\x80\x7f\x00\x00\x00\x00\x00\x01\x11\x70", 10));
}

TEST(FrameEncoderTest, CloseFrame) {
  EXPECT_EQ(close_frame(CloseCode::kTooBig, "big"), lit("\x88\x05\x03\xf1" "big"));
  EXPECT_EQ(close_frame(CloseCode::kNormal, std::string(200, 'r')).size(), 2u + 125u);
}

}  // namespace
}  // namespace ferry::net::websocket
