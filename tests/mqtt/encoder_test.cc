#include "mqtt/encoder.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "bytes.h"
#include "mqtt/decoder.h"

namespace ferry::mqtt {
namespace {

using namespace std::string_literals;
using namespace testing;

constexpr auto k311 = Level::k3_1_1;
constexpr auto k5 = Level::k5;

template <typename F>
std::string encoded(F f) {
  std::string out;
  f(out);
  return out;
}

TEST(MqttEncoder, Connack311) {
  EXPECT_EQ(encoded([](auto& o) { encode_connack(k311, Connack{true, ReasonCode::kSuccess, {}}, o); }), "\x20\x02\x01\x00"s);
  EXPECT_EQ(encoded([](auto& o) { encode_connack(k311, Connack{false, ReasonCode::kSuccess, {}}, o); }), "\x20\x02\x00\x00"s);
  // 5's reason codes become 3.1.1's return codes; session present is 0 on a refusal.
  EXPECT_EQ(encoded([](auto& o) { encode_connack(k311, Connack{true, ReasonCode::kBadUserNameOrPassword, {}}, o); }),
            "\x20\x02\x00\x04"s);
  EXPECT_EQ(encoded([](auto& o) { encode_connack(k311, Connack{false, ReasonCode::kUnsupportedProtocolVersion, {}}, o); }),
            "\x20\x02\x00\x01"s);
  EXPECT_EQ(encoded([](auto& o) { encode_connack(k311, Connack{false, ReasonCode::kClientIdentifierNotValid, {}}, o); }),
            "\x20\x02\x00\x02"s);
  EXPECT_EQ(encoded([](auto& o) { encode_connack(k311, Connack{false, ReasonCode::kNotAuthorized, {}}, o); }),
            "\x20\x02\x00\x05"s);
  EXPECT_EQ(encoded([](auto& o) { encode_connack(k311, Connack{false, ReasonCode::kServerBusy, {}}, o); }),
            "\x20\x02\x00\x03"s);
}

TEST(MqttEncoder, Connack5WithProperties) {
  Connack c;
  c.reason = ReasonCode::kSuccess;
  c.properties.receive_maximum = 100;
  c.properties.maximum_qos = 1;
  c.properties.retain_available = 0;
  c.properties.assigned_client_identifier = "auto-1";
  c.properties.topic_alias_maximum = 0;
  const std::string p = byte(0x12) + str("auto-1") + byte(0x21) + u16(100) + byte(0x22) + u16(0) + byte(0x24) +
                        byte(1) + byte(0x25) + byte(0);
  EXPECT_EQ(encoded([&](auto& o) { encode_connack(k5, c, o); }), packet(0x20, byte(0) + byte(0) + props(p)));
  EXPECT_EQ(encoded([](auto& o) { encode_connack(k5, Connack{true, ReasonCode::kMalformedPacket, {}}, o); }),
            "\x20\x03\x00\x81\x00"s);
}

TEST(MqttEncoder, PublishBothLevelsRoundTrips) {
  Publish p;
  p.topic = "a/b";
  p.qos = 1;
  p.packet_id = 300;
  p.retain = true;
  const std::string payload = "pay\0load"s;
  p.payload = payload;
  EXPECT_EQ(encoded([&](auto& o) { encode_publish(k311, p, o); }), packet(0x33, str("a/b") + u16(300) + "pay\0load"s));
  p.properties.user_properties = {{"k", "v"}};
  p.properties.subscription_identifiers = {1, 200};
  const std::string e5 = encoded([&](auto& o) { encode_publish(k5, p, o); });
  EXPECT_EQ(e5, packet(0x33, str("a/b") + u16(300) +
                                props(byte(0x0B) + vbi(1) + byte(0x0B) + vbi(200) + byte(0x26) + str("k") + str("v")) +
                                "pay\0load"s));
  // QoS 0 has no packet id; a big payload gets a multi-byte remaining length.
  Publish big;
  big.topic = "t";
  const std::string body(20000, 'x');
  big.payload = body;
  const std::string eb = encoded([&](auto& o) { encode_publish(k311, big, o); });
  EXPECT_EQ(eb, packet(0x30, str("t") + std::string(big.payload)));
  Decoder d(1 << 20);
  d.set_level(k311);
  ClientPacket back;
  ASSERT_EQ(d.next(eb, back).status, Decoder::Status::kPacket);
  EXPECT_EQ(std::get<Publish>(back), big);
}

TEST(MqttEncoder, PubResponses) {
  EXPECT_EQ(encoded([](auto& o) { encode_pub_response(k311, {PacketType::kPuback, 7, {}, {}}, o); }), "\x40\x02\x00\x07"s);
  EXPECT_EQ(encoded([](auto& o) { encode_pub_response(k311, {PacketType::kPubrec, 7, {}, {}}, o); }), "\x50\x02\x00\x07"s);
  EXPECT_EQ(encoded([](auto& o) { encode_pub_response(k311, {PacketType::kPubrel, 7, {}, {}}, o); }), "\x62\x02\x00\x07"s);
  EXPECT_EQ(encoded([](auto& o) { encode_pub_response(k311, {PacketType::kPubcomp, 7, {}, {}}, o); }), "\x70\x02\x00\x07"s);
  // 5: the short form for Success; else reason code and properties.
  EXPECT_EQ(encoded([](auto& o) { encode_pub_response(k5, {PacketType::kPuback, 7, {}, {}}, o); }), "\x40\x02\x00\x07"s);
  EXPECT_EQ(encoded([](auto& o) { encode_pub_response(k5, {PacketType::kPuback, 7, ReasonCode::kNoMatchingSubscribers, {}}, o); }),
            "\x40\x04\x00\x07\x10\x00"s);
  // 3.1.1 drops what it cannot carry.
  EXPECT_EQ(encoded([](auto& o) { encode_pub_response(k311, {PacketType::kPuback, 7, ReasonCode::kNotAuthorized, {}}, o); }),
            "\x40\x02\x00\x07"s);
  PubResponse r{PacketType::kPubrec, 9, ReasonCode::kQuotaExceeded, {}};
  r.properties.reason_string = "full";
  EXPECT_EQ(encoded([&](auto& o) { encode_pub_response(k5, r, o); }),
            packet(0x50, u16(9) + byte(0x97) + props(byte(0x1F) + str("full"))));
}

TEST(MqttEncoder, Suback) {
  const Suback s{5, {}, {ReasonCode::kGrantedQos1, ReasonCode::kSuccess, ReasonCode::kTopicFilterInvalid}};
  EXPECT_EQ(encoded([&](auto& o) { encode_suback(k311, s, o); }), "\x90\x05\x00\x05\x01\x00\x80"s);
  EXPECT_EQ(encoded([&](auto& o) { encode_suback(k5, s, o); }), "\x90\x06\x00\x05\x00\x01\x00\x8F"s);
}

TEST(MqttEncoder, Unsuback) {
  const Unsuback u{5, {}, {ReasonCode::kSuccess, ReasonCode::kNoSubscriptionExisted}};
  EXPECT_EQ(encoded([&](auto& o) { encode_unsuback(k311, u, o); }), "\xB0\x02\x00\x05"s);
  EXPECT_EQ(encoded([&](auto& o) { encode_unsuback(k5, u, o); }), "\xB0\x05\x00\x05\x00\x00\x11"s);
}

TEST(MqttEncoder, PingrespDisconnectAuth) {
  EXPECT_EQ(encoded([](auto& o) { encode_pingresp(o); }), "\xD0\x00"s);
  EXPECT_EQ(encoded([](auto& o) { encode_disconnect(k5, Disconnect{}, o); }), "\xE0\x00"s);
  EXPECT_EQ(encoded([](auto& o) { encode_disconnect(k5, Disconnect{ReasonCode::kPacketTooLarge, {}}, o); }),
            "\xE0\x02\x95\x00"s);
  Disconnect d{ReasonCode::kKeepAliveTimeout, {}};
  d.properties.reason_string = "idle";
  EXPECT_EQ(encoded([&](auto& o) { encode_disconnect(k5, d, o); }), packet(0xE0, byte(0x8D) + props(byte(0x1F) + str("idle"))));
  Auth a{ReasonCode::kContinueAuthentication, {}};
  a.properties.authentication_method = "M";
  EXPECT_EQ(encoded([&](auto& o) { encode_auth(a, o); }), packet(0xF0, byte(0x18) + props(byte(0x15) + str("M"))));
}

TEST(MqttEncoder, ReasonCodeNames) {
  EXPECT_EQ(describe(ReasonCode::kPacketTooLarge), "Packet too large");
  EXPECT_EQ(describe(ReasonCode::kMalformedPacket), "Malformed Packet");
  EXPECT_EQ(describe(static_cast<ReasonCode>(0x7F)), "unknown reason code");
  EXPECT_TRUE(is_error(ReasonCode::kUnspecifiedError));
  EXPECT_FALSE(is_error(ReasonCode::kGrantedQos2));
}

}  // namespace
}  // namespace ferry::mqtt
