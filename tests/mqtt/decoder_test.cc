#include "mqtt/decoder.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <variant>

#include "bytes.h"
#include "mqtt/wire.h"

namespace ferry::mqtt {
namespace {

using namespace std::string_literals;
using namespace testing;

constexpr std::size_t kMax = 1 << 20;

struct Decoded {
  Decoder::Result result;
  ClientPacket packet;
};

// Decodes one packet from `bytes` (all of them), as a connection of the
// given level (empty: before CONNECT).
// Decoded packets point into their bytes: the tests' bytes are kept here.
const std::string& keep(std::string bytes) {
  static std::deque<std::string> kept;
  return kept.emplace_back(std::move(bytes));
}

Decoded decode(std::optional<Level> level, const std::string& input, std::size_t max = kMax) {
  const std::string& bytes = keep(input);
  Decoder d(max);
  if (level) d.set_level(*level);
  Decoded out;
  out.result = d.next(bytes, out.packet);
  if (out.result.status == Decoder::Status::kPacket) {
    EXPECT_EQ(out.result.consumed, bytes.size());
    // Byte by byte gives the same packet: the decoder waits for the rest.
    Decoder slow(max);
    if (level) slow.set_level(*level);
    ClientPacket p;
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      const Decoder::Result r = slow.next(std::string_view(bytes).substr(0, n), p);
      EXPECT_EQ(r.status, Decoder::Status::kNeedMore) << "at " << n;
    }
    EXPECT_EQ(slow.next(bytes, p).status, Decoder::Status::kPacket);
    EXPECT_EQ(p, out.packet);
  }
  return out;
}

ReasonCode error_of(std::optional<Level> level, const std::string& bytes, std::size_t max = kMax) {
  const Decoded d = decode(level, bytes, max);
  EXPECT_EQ(d.result.status, Decoder::Status::kError) << "decoded instead of failing";
  EXPECT_FALSE(d.result.rule.empty());
  return d.result.error;
}

template <typename T>
T decode_as(std::optional<Level> level, const std::string& bytes) {
  Decoded d = decode(level, bytes);
  EXPECT_EQ(d.result.status, Decoder::Status::kPacket) << d.result.rule;
  EXPECT_TRUE(std::holds_alternative<T>(d.packet));
  if (!std::holds_alternative<T>(d.packet)) return T{};
  return std::get<T>(d.packet);
}

constexpr auto k311 = Level::k3_1_1;
constexpr auto k5 = Level::k5;

// --- Variable Byte Integer (spec 1.5.5) -------------------------------------

TEST(MqttWire, VariableByteIntegerBoundaries) {
  for (std::uint32_t v : {0u, 127u, 128u, 16'383u, 16'384u, 2'097'151u, 2'097'152u, 268'435'455u}) {
    std::string b;
    put_variable_int(b, v);
    EXPECT_EQ(b, vbi(v));
    EXPECT_EQ(b.size(), variable_int_size(v));
    std::uint32_t back = 0;
    EXPECT_EQ(decode_variable_int(b, back), static_cast<int>(b.size()));
    EXPECT_EQ(back, v);
    EXPECT_EQ(decode_variable_int(b.substr(0, b.size() - 1), back), 0);  // needs more
  }
  std::uint32_t v = 0;
  EXPECT_EQ(decode_variable_int("\xFF\xFF\xFF\xFF\x01", v), -1);  // a fifth byte
}

TEST(MqttDecoder, RemainingLengthOfFiveBytesIsMalformed) {
  EXPECT_EQ(error_of(k311, "\xC0\x80\x80\x80\x80\x01"s), ReasonCode::kMalformedPacket);
}

TEST(MqttDecoder, WaitsForTheRemainingLength) {
  Decoder d(kMax);
  d.set_level(k311);
  ClientPacket p;
  EXPECT_EQ(d.next("\x30"s, p).status, Decoder::Status::kNeedMore);
  EXPECT_EQ(d.next("\x30\x80"s, p).status, Decoder::Status::kNeedMore);
}

// --- CONNECT ----------------------------------------------------------------

TEST(MqttDecoder, Connect311Minimal) {
  const auto c = decode_as<Connect>(std::nullopt, packet(0x10, connect_header(4, 0x02, 30) + str("client-1")));
  EXPECT_EQ(c.level, k311);
  EXPECT_TRUE(c.clean_start);
  EXPECT_EQ(c.keep_alive, 30);
  EXPECT_EQ(c.client_id, "client-1");
  EXPECT_FALSE(c.will);
  EXPECT_FALSE(c.username);
  EXPECT_FALSE(c.password);
}

TEST(MqttDecoder, Connect311WithWillUserAndPassword) {
  // flags: user, password, will retain, will QoS 1, will, clean session
  const unsigned flags = 0x80 | 0x40 | 0x20 | 0x08 | 0x04 | 0x02;
  const auto c = decode_as<Connect>(
      std::nullopt, packet(0x10, connect_header(4, flags) + str("") + str("last/will") + str("gone\0x"s) +
                                     str("guest") + str("pw\xFF")));
  ASSERT_TRUE(c.will);
  EXPECT_EQ(c.will->qos, 1);
  EXPECT_TRUE(c.will->retain);
  EXPECT_EQ(c.will->topic, "last/will");
  EXPECT_EQ(c.will->payload, "gone\0x"s);
  EXPECT_EQ(c.client_id, "");
  EXPECT_EQ(c.username, "guest");
  EXPECT_EQ(c.password, "pw\xFF");  // binary data, not UTF-8
}

TEST(MqttDecoder, Connect5WithProperties) {
  const std::string connect_props = props(byte(0x11) + u32(3600) +      // session expiry
                                          byte(0x21) + u16(10) +        // receive maximum
                                          byte(0x27) + u32(65536) +     // maximum packet size
                                          byte(0x22) + u16(5) +         // topic alias maximum
                                          byte(0x17) + byte(1) +        // request problem information
                                          byte(0x26) + str("k") + str("v") + byte(0x26) + str("k") + str("w"));
  const std::string will_props = props(byte(0x18) + u32(7) + byte(0x01) + byte(1) + byte(0x03) + str("text/plain") +
                                       byte(0x08) + str("reply/here") + byte(0x09) + str("\x01\x02"s) +
                                       byte(0x02) + u32(120));
  const unsigned flags = 0x80 | 0x40 | 0x10 | 0x04;  // user, password, will QoS 2, will; clean start off
  const auto c = decode_as<Connect>(
      std::nullopt, packet(0x10, connect_header(5, flags, 0) + connect_props + str("dev") + will_props +
                                     str("w/t") + str("bye") + str("u") + str("p")));
  EXPECT_EQ(c.level, k5);
  EXPECT_FALSE(c.clean_start);
  EXPECT_EQ(c.keep_alive, 0);
  EXPECT_EQ(c.properties.session_expiry_interval, 3600u);
  EXPECT_EQ(c.properties.receive_maximum, 10);
  EXPECT_EQ(c.properties.maximum_packet_size, 65536u);
  EXPECT_EQ(c.properties.topic_alias_maximum, 5);
  EXPECT_EQ(c.properties.request_problem_information, 1);
  ASSERT_EQ(c.properties.user_properties.size(), 2u);  // repeatable, in order
  EXPECT_EQ(c.properties.user_properties[1], (UserProperty{"k", "w"}));
  ASSERT_TRUE(c.will);
  EXPECT_EQ(c.will->qos, 2);
  EXPECT_EQ(c.will->properties.will_delay_interval, 7u);
  EXPECT_EQ(c.will->properties.payload_format_indicator, 1);
  EXPECT_EQ(c.will->properties.content_type, "text/plain");
  EXPECT_EQ(c.will->properties.response_topic, "reply/here");
  EXPECT_EQ(c.will->properties.correlation_data, "\x01\x02"s);
  EXPECT_EQ(c.will->properties.message_expiry_interval, 120u);
  EXPECT_EQ(c.client_id, "dev");
  EXPECT_EQ(c.username, "u");
  EXPECT_EQ(c.password, "p");
}

TEST(MqttDecoder, Connect5AllowsPasswordWithoutUserName) {
  const auto c = decode_as<Connect>(std::nullopt, packet(0x10, connect_header(5, 0x40) + props("") + str("c") + str("tok")));
  EXPECT_FALSE(c.username);
  EXPECT_EQ(c.password, "tok");
}

TEST(MqttDecoder, ConnectRefusals) {
  const std::nullopt_t none = std::nullopt;
  // Protocol name and level (3.1.1 3.1.2.2; 5 3.1.2.2).
  EXPECT_EQ(error_of(none, packet(0x10, str("MQIsdp") + byte(3) + byte(2) + u16(60) + str("c"))),
            ReasonCode::kUnsupportedProtocolVersion);
  EXPECT_EQ(error_of(none, packet(0x10, connect_header(6, 2) + str("c"))), ReasonCode::kUnsupportedProtocolVersion);
  EXPECT_EQ(error_of(none, packet(0x10, connect_header(3, 2) + str("c"))), ReasonCode::kUnsupportedProtocolVersion);
  EXPECT_EQ(error_of(none, packet(0x10, str("MQTX") + byte(4) + byte(2) + u16(60) + str("c"))),
            ReasonCode::kUnsupportedProtocolVersion);
  // Connect flags (3.1.2.3, 3.1.2-11/13/15).
  EXPECT_EQ(error_of(none, packet(0x10, connect_header(4, 0x03) + str("c"))), ReasonCode::kMalformedPacket);
  EXPECT_EQ(error_of(none, packet(0x10, connect_header(4, 0x1C) + str("c") + str("t") + str("p"))),
            ReasonCode::kMalformedPacket);  // will QoS 3
  EXPECT_EQ(error_of(none, packet(0x10, connect_header(4, 0x08) + str("c"))), ReasonCode::kMalformedPacket);
  EXPECT_EQ(error_of(none, packet(0x10, connect_header(4, 0x20) + str("c"))), ReasonCode::kMalformedPacket);
  EXPECT_EQ(error_of(none, packet(0x10, connect_header(4, 0x40) + str("c") + str("p"))),
            ReasonCode::kMalformedPacket);  // 3.1.1: password without user name
  // Fields: short, trailing bytes, bad UTF-8, a will topic with a wildcard.
  EXPECT_EQ(error_of(none, packet(0x10, connect_header(4, 2))), ReasonCode::kMalformedPacket);
  EXPECT_EQ(error_of(none, packet(0x10, connect_header(4, 2) + str("c") + "x")), ReasonCode::kMalformedPacket);
  EXPECT_EQ(error_of(none, packet(0x10, connect_header(4, 2) + str("c\0"s))), ReasonCode::kMalformedPacket);
  EXPECT_EQ(error_of(none, packet(0x10, connect_header(4, 2) + str("\xC3"))), ReasonCode::kMalformedPacket);
  EXPECT_EQ(error_of(none, packet(0x10, connect_header(4, 0x80) + str("c") + str("\xED\xA0\x80"))),
            ReasonCode::kMalformedPacket);  // surrogate in the user name
  EXPECT_EQ(error_of(none, packet(0x10, connect_header(4, 0x04) + str("c") + str("a/#") + str("x"))),
            ReasonCode::kTopicNameInvalid);
  // Reserved flags of the fixed header.
  EXPECT_EQ(error_of(none, packet(0x11, connect_header(4, 2) + str("c"))), ReasonCode::kMalformedPacket);
}

TEST(MqttDecoder, Connect5PropertyRefusals) {
  auto connect5 = [](const std::string& p) { return packet(0x10, connect_header(5, 2) + props(p) + str("c")); };
  // A property given twice (2.2.2.2): Protocol Error.
  EXPECT_EQ(error_of(std::nullopt, connect5(byte(0x11) + u32(1) + byte(0x11) + u32(2))), ReasonCode::kProtocolError);
  // A property of another packet (Topic Alias, Reason String, Will Delay): Malformed.
  EXPECT_EQ(error_of(std::nullopt, connect5(byte(0x23) + u16(1))), ReasonCode::kMalformedPacket);
  EXPECT_EQ(error_of(std::nullopt, connect5(byte(0x1F) + str("x"))), ReasonCode::kMalformedPacket);
  EXPECT_EQ(error_of(std::nullopt, connect5(byte(0x18) + u32(1))), ReasonCode::kMalformedPacket);
  // An unknown identifier.
  EXPECT_EQ(error_of(std::nullopt, connect5(byte(0x7F) + byte(0))), ReasonCode::kMalformedPacket);
  // Values out of range (3.1.2.11.x): Protocol Error.
  EXPECT_EQ(error_of(std::nullopt, connect5(byte(0x21) + u16(0))), ReasonCode::kProtocolError);
  EXPECT_EQ(error_of(std::nullopt, connect5(byte(0x27) + u32(0))), ReasonCode::kProtocolError);
  EXPECT_EQ(error_of(std::nullopt, connect5(byte(0x17) + byte(2))), ReasonCode::kProtocolError);
  EXPECT_EQ(error_of(std::nullopt, connect5(byte(0x19) + byte(7))), ReasonCode::kProtocolError);
  // Authentication Data without a method (3.1.2.11.10).
  EXPECT_EQ(error_of(std::nullopt, connect5(byte(0x16) + str("d"))), ReasonCode::kProtocolError);
  // A value running past the property block / the block past the packet.
  EXPECT_EQ(error_of(std::nullopt, packet(0x10, connect_header(5, 2) + vbi(3) + byte(0x11) + u16(0) + str("c"))),
            ReasonCode::kMalformedPacket);
  EXPECT_EQ(error_of(std::nullopt, packet(0x10, connect_header(5, 2) + vbi(100) + str("c"))),
            ReasonCode::kMalformedPacket);
  // A user property whose value is not UTF-8.
  EXPECT_EQ(error_of(std::nullopt, connect5(byte(0x26) + str("k") + str("\xFF"))), ReasonCode::kMalformedPacket);
  // Will properties: a CONNECT-only property among them.
  EXPECT_EQ(error_of(std::nullopt, packet(0x10, connect_header(5, 0x04) + props("") + str("c") +
                                                    props(byte(0x11) + u32(1)) + str("t") + str("p"))),
            ReasonCode::kMalformedPacket);
}

TEST(MqttDecoder, PacketOrder) {
  // The first packet must be CONNECT (3.1.0-1); a second is a protocol error (3.1.0-2).
  EXPECT_EQ(error_of(std::nullopt, packet(0xC0, "")), ReasonCode::kProtocolError);
  Decoder d(kMax);
  ClientPacket p;
  const std::string c = packet(0x10, connect_header(4, 2) + str("c"));
  ASSERT_EQ(d.next(c, p).status, Decoder::Status::kPacket);
  EXPECT_EQ(d.level(), k311);
  const Decoder::Result r = d.next(c, p);
  EXPECT_EQ(r.status, Decoder::Status::kError);
  EXPECT_EQ(r.error, ReasonCode::kProtocolError);
  // Sticky.
  EXPECT_EQ(d.next(packet(0xC0, ""), p).status, Decoder::Status::kError);
}

TEST(MqttDecoder, LevelIsKnownWhenTheConnectFailsAfterIt) {
  Decoder d(kMax);
  ClientPacket p;
  const Decoder::Result r = d.next(packet(0x10, connect_header(5, 2) + props(byte(0x23) + u16(1)) + str("c")), p);
  EXPECT_EQ(r.status, Decoder::Status::kError);
  EXPECT_EQ(d.level(), k5);  // the session answers with an MQTT 5 CONNACK 0x81
}

TEST(MqttDecoder, SeveralPacketsInOneRead) {
  Decoder d(kMax);
  ClientPacket p;
  const std::string bytes = packet(0x10, connect_header(4, 2) + str("c")) + packet(0xC0, "") + packet(0xE0, "");
  std::string_view rest = bytes;
  int count = 0;
  for (;;) {
    const Decoder::Result r = d.next(rest, p);
    if (r.status != Decoder::Status::kPacket) {
      EXPECT_EQ(r.status, Decoder::Status::kNeedMore);
      break;
    }
    rest.remove_prefix(r.consumed);
    ++count;
  }
  EXPECT_EQ(count, 3);
  EXPECT_TRUE(std::holds_alternative<Disconnect>(p));
}

// --- Size bound ---------------------------------------------------------------

TEST(MqttDecoder, OversizePacketIsRefusedFromItsHeader) {
  Decoder d(100);
  d.set_level(k311);
  ClientPacket p;
  // Only the fixed header has arrived: 1 + 1 + 99 > 100.
  const Decoder::Result r = d.next("\x30\x63"s, p);
  EXPECT_EQ(r.status, Decoder::Status::kError);
  EXPECT_EQ(r.error, ReasonCode::kPacketTooLarge);
  // Exactly the maximum is fine.
  EXPECT_EQ(decode(k311, packet(0x30, str("t") + std::string(95, 'x')), 100).result.status, Decoder::Status::kPacket);
  EXPECT_EQ(error_of(k311, packet(0x30, str("t") + std::string(96, 'x')), 100), ReasonCode::kPacketTooLarge);
}

// --- Fixed header ---------------------------------------------------------------

TEST(MqttDecoder, ReservedTypesAndFlags) {
  EXPECT_EQ(error_of(k311, packet(0x00, "")), ReasonCode::kMalformedPacket);       // type 0
  EXPECT_EQ(error_of(k311, packet(0xF0, "")), ReasonCode::kMalformedPacket);       // AUTH in 3.1.1
  EXPECT_EQ(error_of(k5, packet(0xC1, "")), ReasonCode::kMalformedPacket);         // PINGREQ flags
  EXPECT_EQ(error_of(k5, packet(0x60, u16(1))), ReasonCode::kMalformedPacket);     // PUBREL without 0010
  EXPECT_EQ(error_of(k5, packet(0x80, u16(1) + props("") + str("a") + byte(0))), ReasonCode::kMalformedPacket);
  EXPECT_EQ(error_of(k5, packet(0xA0, u16(1) + props("") + str("a"))), ReasonCode::kMalformedPacket);
  EXPECT_EQ(error_of(k5, packet(0x41, u16(1))), ReasonCode::kMalformedPacket);     // PUBACK flags
  // Packets only a server sends.
  for (unsigned first : {0x20u, 0x90u, 0xB0u, 0xD0u}) {
    EXPECT_EQ(error_of(k5, packet(first, u16(1) + byte(0))), ReasonCode::kProtocolError) << first;
  }
}

// --- PUBLISH ---------------------------------------------------------------------

TEST(MqttDecoder, Publish311AllQos) {
  auto p = decode_as<Publish>(k311, packet(0x30, str("a/b/c") + "hello"));
  EXPECT_EQ(p.qos, 0);
  EXPECT_EQ(p.topic, "a/b/c");
  EXPECT_EQ(p.payload, "hello");
  EXPECT_EQ(p.packet_id, 0);
  p = decode_as<Publish>(k311, packet(0x33, str("t") + u16(7) + "x"));  // QoS 1, retain
  EXPECT_EQ(p.qos, 1);
  EXPECT_TRUE(p.retain);
  EXPECT_EQ(p.packet_id, 7);
  p = decode_as<Publish>(k311, packet(0x3C, str("t") + u16(65535)));  // QoS 2, DUP, empty payload
  EXPECT_EQ(p.qos, 2);
  EXPECT_TRUE(p.dup);
  EXPECT_EQ(p.payload, "");
  // The payload is binary: NUL and invalid UTF-8 pass.
  p = decode_as<Publish>(k311, packet(0x30, str("t") + "\0\xFF"s));
  EXPECT_EQ(p.payload, "\0\xFF"s);
}

TEST(MqttDecoder, Publish5WithProperties) {
  const std::string ps = props(byte(0x01) + byte(1) + byte(0x02) + u32(30) + byte(0x03) + str("json") +
                               byte(0x08) + str("re/ply") + byte(0x09) + str("id-1") + byte(0x23) + u16(3) +
                               byte(0x26) + str("a") + str("b"));
  const auto p = decode_as<Publish>(k5, packet(0x32, str("a/b") + u16(9) + ps + "{}"));
  EXPECT_EQ(p.qos, 1);
  EXPECT_EQ(p.packet_id, 9);
  EXPECT_EQ(p.properties.payload_format_indicator, 1);
  EXPECT_EQ(p.properties.message_expiry_interval, 30u);
  EXPECT_EQ(p.properties.content_type, "json");
  EXPECT_EQ(p.properties.response_topic, "re/ply");
  EXPECT_EQ(p.properties.correlation_data, "id-1");
  EXPECT_EQ(p.properties.topic_alias, 3);
  ASSERT_EQ(p.properties.user_properties.size(), 1u);
  EXPECT_EQ(p.payload, "{}");
  // An empty topic name with a Topic Alias (3.3.2.3.4).
  const auto q = decode_as<Publish>(k5, packet(0x30, str("") + props(byte(0x23) + u16(3)) + "x"));
  EXPECT_EQ(q.topic, "");
  EXPECT_EQ(q.properties.topic_alias, 3);
}

TEST(MqttDecoder, PublishRefusals) {
  EXPECT_EQ(error_of(k311, packet(0x36, str("t") + u16(1))), ReasonCode::kMalformedPacket);   // QoS 3
  EXPECT_EQ(error_of(k311, packet(0x38, str("t"))), ReasonCode::kProtocolError);              // DUP on QoS 0
  EXPECT_EQ(error_of(k311, packet(0x32, str("t") + u16(0))), ReasonCode::kProtocolError);     // packet id 0
  EXPECT_EQ(error_of(k311, packet(0x32, str("t"))), ReasonCode::kMalformedPacket);            // no packet id
  EXPECT_EQ(error_of(k311, packet(0x30, str("a/+"))), ReasonCode::kTopicNameInvalid);
  EXPECT_EQ(error_of(k5, packet(0x30, str("a/#") + props(""))), ReasonCode::kTopicNameInvalid);
  EXPECT_EQ(error_of(k311, packet(0x30, str("a\0b"s))), ReasonCode::kMalformedPacket);
  EXPECT_EQ(error_of(k311, packet(0x30, str(""))), ReasonCode::kProtocolError);
  EXPECT_EQ(error_of(k5, packet(0x30, str("") + props(""))), ReasonCode::kProtocolError);      // no alias
  EXPECT_EQ(error_of(k5, packet(0x30, str("t") + props(byte(0x23) + u16(0)))), ReasonCode::kProtocolError);
  EXPECT_EQ(error_of(k5, packet(0x30, str("t") + props(byte(0x0B) + vbi(1)))), ReasonCode::kProtocolError);
  EXPECT_EQ(error_of(k5, packet(0x30, str("t") + props(byte(0x01) + byte(2)))), ReasonCode::kProtocolError);
  EXPECT_EQ(error_of(k5, packet(0x30, str("t") + props(byte(0x11) + u32(1)))), ReasonCode::kMalformedPacket);
  EXPECT_EQ(error_of(k5, packet(0x30, str("t") + props(byte(0x03) + str("a") + byte(0x03) + str("b")))),
            ReasonCode::kProtocolError);
  EXPECT_EQ(error_of(k5, packet(0x30, str("t"))), ReasonCode::kMalformedPacket);  // no property length
}

// --- PUBACK, PUBREC, PUBREL, PUBCOMP ---------------------------------------------

TEST(MqttDecoder, PubResponsesBothLevels) {
  const std::pair<unsigned, PacketType> kinds[] = {
      {0x40, PacketType::kPuback}, {0x50, PacketType::kPubrec}, {0x62, PacketType::kPubrel}, {0x70, PacketType::kPubcomp}};
  for (const auto& [first, type] : kinds) {
    auto r = decode_as<PubResponse>(k311, packet(first, u16(513)));
    EXPECT_EQ(r.type, type);
    EXPECT_EQ(r.packet_id, 513);
    r = decode_as<PubResponse>(k5, packet(first, u16(2)));  // short form: Success
    EXPECT_EQ(r.reason, ReasonCode::kSuccess);
    r = decode_as<PubResponse>(k5, packet(first, u16(2) + byte(0)));
    EXPECT_EQ(r.reason, ReasonCode::kSuccess);
    r = decode_as<PubResponse>(k5, packet(first, u16(2) + byte(0) + props(byte(0x1F) + str("fine"))));
    EXPECT_EQ(r.properties.reason_string, "fine");
    EXPECT_EQ(error_of(k311, packet(first, u16(2) + byte(0))), ReasonCode::kMalformedPacket);
    EXPECT_EQ(error_of(k5, packet(first, u16(0))), ReasonCode::kProtocolError);
    EXPECT_EQ(error_of(k5, packet(first, byte(1))), ReasonCode::kMalformedPacket);
    EXPECT_EQ(error_of(k5, packet(first, u16(2) + byte(0) + props(byte(0x23) + u16(1)))), ReasonCode::kMalformedPacket);
  }
  EXPECT_EQ(decode_as<PubResponse>(k5, packet(0x40, u16(1) + byte(0x10))).reason, ReasonCode::kNoMatchingSubscribers);
  EXPECT_EQ(decode_as<PubResponse>(k5, packet(0x62, u16(1) + byte(0x92))).reason,
            ReasonCode::kPacketIdentifierNotFound);
  EXPECT_EQ(error_of(k5, packet(0x62, u16(1) + byte(0x10))), ReasonCode::kProtocolError);  // not a PUBREL code
  EXPECT_EQ(error_of(k5, packet(0x40, u16(1) + byte(0x92))), ReasonCode::kProtocolError);  // not a PUBACK code
}

// --- SUBSCRIBE, UNSUBSCRIBE --------------------------------------------------------

TEST(MqttDecoder, Subscribe311) {
  const auto s = decode_as<Subscribe>(k311, packet(0x82, u16(10) + str("a/+") + byte(1) + str("#") + byte(2)));
  EXPECT_EQ(s.packet_id, 10);
  ASSERT_EQ(s.subscriptions.size(), 2u);
  EXPECT_EQ(s.subscriptions[0].filter, "a/+");
  EXPECT_EQ(s.subscriptions[0].options.qos, 1);
  EXPECT_EQ(s.subscriptions[1].options.qos, 2);
  // 3.1.1 3.8.3-4: the upper six bits are reserved.
  EXPECT_EQ(error_of(k311, packet(0x82, u16(1) + str("a") + byte(0x04))), ReasonCode::kMalformedPacket);
}

TEST(MqttDecoder, Subscribe5Options) {
  const unsigned options = 0x20 | 0x08 | 0x04 | 0x01;  // retain handling 2, RAP, NL, QoS 1
  const auto s = decode_as<Subscribe>(
      k5, packet(0x82, u16(3) + props(byte(0x0B) + vbi(300) + byte(0x26) + str("x") + str("y")) + str("a/#") +
                           byte(options) + str("$share/g/b") + byte(0)));
  ASSERT_EQ(s.subscriptions.size(), 2u);
  EXPECT_EQ(s.properties.subscription_identifiers, std::vector<std::uint32_t>{300});
  const SubscribeOptions& o = s.subscriptions[0].options;
  EXPECT_EQ(o.qos, 1);
  EXPECT_TRUE(o.no_local);
  EXPECT_TRUE(o.retain_as_published);
  EXPECT_EQ(o.retain_handling, 2);
  EXPECT_EQ(s.subscriptions[1].filter, "$share/g/b");
}

TEST(MqttDecoder, SubscribeRefusals) {
  EXPECT_EQ(error_of(k311, packet(0x82, u16(1))), ReasonCode::kProtocolError);               // no filter
  EXPECT_EQ(error_of(k5, packet(0x82, u16(1) + props(""))), ReasonCode::kProtocolError);
  EXPECT_EQ(error_of(k311, packet(0x82, u16(0) + str("a") + byte(0))), ReasonCode::kProtocolError);
  EXPECT_EQ(error_of(k311, packet(0x82, u16(1) + str("a") + byte(3))), ReasonCode::kMalformedPacket);   // QoS 3
  EXPECT_EQ(error_of(k5, packet(0x82, u16(1) + props("") + str("a") + byte(0x40))), ReasonCode::kMalformedPacket);
  EXPECT_EQ(error_of(k5, packet(0x82, u16(1) + props("") + str("a") + byte(0x30))), ReasonCode::kProtocolError);
  EXPECT_EQ(error_of(k5, packet(0x82, u16(1) + props("") + str("a"))), ReasonCode::kMalformedPacket);  // no options
  EXPECT_EQ(error_of(k5, packet(0x82, u16(1) + props(byte(0x0B) + vbi(0)) + str("a") + byte(0))),
            ReasonCode::kProtocolError);  // subscription identifier 0
  EXPECT_EQ(error_of(k5, packet(0x82, u16(1) + props(byte(0x0B) + vbi(1) + byte(0x0B) + vbi(2)) + str("a") + byte(0))),
            ReasonCode::kProtocolError);  // twice
  EXPECT_EQ(error_of(k5, packet(0x82, u16(1) + props(byte(0x11) + u32(0)) + str("a") + byte(0))),
            ReasonCode::kMalformedPacket);
  EXPECT_EQ(error_of(k311, packet(0x82, u16(1) + str("\xC3") + byte(0))), ReasonCode::kMalformedPacket);
}

TEST(MqttDecoder, UnsubscribeBothLevels) {
  auto u = decode_as<Unsubscribe>(k311, packet(0xA2, u16(4) + str("a/+") + str("b")));
  EXPECT_EQ(u.packet_id, 4);
  EXPECT_EQ(u.filters, (std::vector<std::string_view>{"a/+", "b"}));
  u = decode_as<Unsubscribe>(k5, packet(0xA2, u16(5) + props(byte(0x26) + str("k") + str("v")) + str("x")));
  EXPECT_EQ(u.filters, std::vector<std::string_view>{"x"});
  EXPECT_EQ(u.properties.user_properties.size(), 1u);
  EXPECT_EQ(error_of(k311, packet(0xA2, u16(4))), ReasonCode::kProtocolError);
  EXPECT_EQ(error_of(k5, packet(0xA2, u16(4) + props(byte(0x0B) + vbi(1)) + str("x"))), ReasonCode::kMalformedPacket);
  EXPECT_EQ(error_of(k311, packet(0xA2, u16(0) + str("x"))), ReasonCode::kProtocolError);
}

// --- PINGREQ, DISCONNECT, AUTH ----------------------------------------------------

TEST(MqttDecoder, Pingreq) {
  decode_as<Pingreq>(k311, packet(0xC0, ""));
  decode_as<Pingreq>(k5, packet(0xC0, ""));
  EXPECT_EQ(error_of(k5, packet(0xC0, "x")), ReasonCode::kMalformedPacket);
}

TEST(MqttDecoder, DisconnectBothLevels) {
  EXPECT_EQ(decode_as<Disconnect>(k311, packet(0xE0, "")).reason, ReasonCode::kSuccess);
  EXPECT_EQ(error_of(k311, packet(0xE0, byte(0))), ReasonCode::kMalformedPacket);
  EXPECT_EQ(decode_as<Disconnect>(k5, packet(0xE0, "")).reason, ReasonCode::kSuccess);
  EXPECT_EQ(decode_as<Disconnect>(k5, packet(0xE0, byte(0x04))).reason, ReasonCode::kDisconnectWithWill);
  const auto d = decode_as<Disconnect>(k5, packet(0xE0, byte(0) + props(byte(0x11) + u32(0) + byte(0x1F) + str("bye"))));
  EXPECT_EQ(d.properties.session_expiry_interval, 0u);
  EXPECT_EQ(d.properties.reason_string, "bye");
  EXPECT_EQ(error_of(k5, packet(0xE0, byte(0) + props(byte(0x21) + u16(1)))), ReasonCode::kMalformedPacket);
}

TEST(MqttDecoder, Auth5) {
  EXPECT_EQ(decode_as<Auth>(k5, packet(0xF0, "")).reason, ReasonCode::kSuccess);
  const auto a = decode_as<Auth>(k5, packet(0xF0, byte(0x18) + props(byte(0x15) + str("SCRAM") + byte(0x16) + str("d"))));
  EXPECT_EQ(a.reason, ReasonCode::kContinueAuthentication);
  EXPECT_EQ(a.properties.authentication_method, "SCRAM");
  EXPECT_EQ(error_of(k5, packet(0xF0, byte(0x01))), ReasonCode::kProtocolError);
  EXPECT_EQ(error_of(k5, packet(0xF0, byte(0x18) + props(byte(0x01) + byte(0)))), ReasonCode::kMalformedPacket);
}

}  // namespace
}  // namespace ferry::mqtt
