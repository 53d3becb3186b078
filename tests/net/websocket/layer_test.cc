#include "net/websocket/layer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace ferry::net::websocket {
namespace {

const std::string kRequest =
    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Protocol: v12.stomp\r\n\r\n";

std::string masked(std::uint8_t first, std::string_view payload, bool mask = true) {
  const unsigned char key[4] = {1, 2, 3, 4};
  std::string out;
  out.push_back(static_cast<char>(first));
  out.push_back(static_cast<char>((mask ? 0x80 : 0) | payload.size()));
  if (mask) out.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    out.push_back(mask ? static_cast<char>(payload[i] ^ key[i & 3]) : payload[i]);
  return out;
}

// Runs `bytes` through the layer in one read; returns the STOMP bytes.
std::string feed(Layer& l, std::string bytes, Layer::Inbound* result = nullptr) {
  auto in = l.inbound(bytes.data(), bytes.size());
  if (result) *result = in;
  return bytes.substr(0, in.stomp_bytes);
}

TEST(LayerTest, HandshakeThenFramesInTheSameRead) {
  Layer l("/ws", 1024);
  Layer::Inbound in;
  EXPECT_EQ(feed(l, kRequest + masked(0x81, "CONNECT\n\n"), &in), "CONNECT\n\n");
  EXPECT_TRUE(l.open());
  EXPECT_FALSE(in.failed);
  EXPECT_EQ(l.urgent().rfind("HTTP/1.1 101 ", 0), 0u);
  EXPECT_NE(l.urgent().find("Sec-WebSocket-Protocol: v12.stomp"), std::string::npos);
}

TEST(LayerTest, PingQueuesAPong) {
  Layer l("/ws", 1024);
  feed(l, kRequest);
  l.urgent().clear();
  EXPECT_EQ(feed(l, masked(0x89, "hi") + masked(0x82, "x")), "x");
  EXPECT_EQ(l.urgent(), std::string("\x8a\x02hi", 4));
}

TEST(LayerTest, RejectedHandshakeAnswersHttpAndFails) {
  Layer l("/other", 1024);
  Layer::Inbound in;
  EXPECT_EQ(feed(l, kRequest, &in), "");
  EXPECT_TRUE(in.failed);
  EXPECT_FALSE(l.open());
  EXPECT_EQ(l.urgent().rfind("HTTP/1.1 404 ", 0), 0u);
  EXPECT_FALSE(l.queue_close());  // no close frame before the handshake
}

TEST(LayerTest, ProtocolErrorQueuesCloseWithCodeAfterEarlierPayload) {
  Layer l("/ws", 1024);
  feed(l, kRequest);
  l.urgent().clear();
  Layer::Inbound in;
  EXPECT_EQ(feed(l, masked(0x81, "SEND") + masked(0x81, "x", false), &in), "SEND");
  EXPECT_TRUE(in.failed);
  EXPECT_TRUE(l.close_sent());
  ASSERT_GE(l.urgent().size(), 4u);
  EXPECT_EQ(static_cast<unsigned char>(l.urgent()[0]), 0x88);
  EXPECT_EQ(l.urgent().substr(2, 2), std::string("\x03\xea", 2));  // 1002
  EXPECT_FALSE(l.queue_close());  // once
}

TEST(LayerTest, PeerCloseIsEndOfInputAndEchoed) {
  Layer l("/ws", 1024);
  feed(l, kRequest);
  l.urgent().clear();
  Layer::Inbound in;
  EXPECT_EQ(feed(l, masked(0x81, "A") + masked(0x88, std::string("\x03\xe9", 2)) + masked(0x81, "B"), &in), "A");
  EXPECT_TRUE(in.peer_closed);
  EXPECT_TRUE(l.queue_close());
  EXPECT_EQ(l.urgent(), std::string("\x88\x02\x03\xe9", 4));  // 1001 echoed
}

}  // namespace
}  // namespace ferry::net::websocket
