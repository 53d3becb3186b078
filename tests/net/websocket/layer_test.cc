#include "net/websocket/layer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

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

// What the layer writes for `in` (header and bytes), as one string.
std::string framed(Layer& l, const std::vector<std::string>& in) {
  std::vector<boost::asio::const_buffer> bufs, out;
  for (const auto& s : in) bufs.emplace_back(s.data(), s.size());
  l.frame(bufs, out);
  std::string all;
  for (const auto& b : out) all.append(static_cast<const char*>(b.data()), b.size());
  return all;
}

// MQTT over WebSocket (ws://HOST:PORT/mqtt): the server's packets are not
// STOMP frames; each write goes as one whole binary message (FIN set), so
// that a client that waits for a message's end (the npm ws package under
// MQTT.js, browsers) reads them. Before, a CONNACK went out as the first
// fragment of a message that never ended.
TEST(LayerTest, MqttEndpointSendsWholeBinaryMessages) {
  const std::string mqtt_request =
      "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Protocol: mqtt\r\n\r\n";
  for (bool routed : {false, true}) {
    // The MQTT listener's own path, and /mqtt beside STOMP's /ws.
    Layer l(routed ? "/ws" : "/mqtt", 1024, routed ? std::vector<std::string>{} : std::vector<std::string>{"mqtt"});
    if (routed) l.add_endpoint("/mqtt", {"mqtt"});
    feed(l, mqtt_request);
    ASSERT_TRUE(l.open());
    const std::string connack("\x20\x02\x00\x00", 4), suback("\x90\x03\x00\x01\x01", 5);
    EXPECT_EQ(framed(l, {connack}), std::string("\x82\x04", 2) + connack);
    EXPECT_EQ(framed(l, {connack, suback}), std::string("\x82\x09", 2) + connack + suback);
    EXPECT_EQ(framed(l, {}), "");
  }
}

TEST(LayerTest, StompEndpointStillSendsOneFramePerMessage) {
  Layer l("/ws", 1024);
  l.add_endpoint("/mqtt", {"mqtt"});
  feed(l, kRequest);
  ASSERT_TRUE(l.open());
  const std::string frame("MESSAGE\n\nhi", 11);
  EXPECT_EQ(framed(l, {frame + std::string(1, '\0')}), std::string("\x81\x0c", 2) + frame + std::string(1, '\0'));
}

}  // namespace
}  // namespace ferry::net::websocket
