#include "mqtt/encoder.h"

#include <cstdint>

#include "common/assert.h"
#include "mqtt/properties.h"
#include "mqtt/wire.h"

namespace ferry::mqtt {

namespace {

void fixed_header(std::string& out, PacketType type, std::uint8_t flags, std::size_t remaining) {
  FERRY_ASSERT(remaining <= kMaxVariableByteInteger);
  put_u8(out, static_cast<std::uint8_t>((static_cast<std::uint8_t>(type) << 4) | flags));
  put_variable_int(out, static_cast<std::uint32_t>(remaining));
}

}  // namespace

void encode_connack(Level level, const Connack& p, std::string& out) {
  const std::uint8_t ack_flags = p.session_present ? 1 : 0;
  if (level != Level::k5) {
    fixed_header(out, PacketType::kConnack, 0, 2);
    // 3.1.1 3.2.2-4: session present is 0 on a refusal.
    put_u8(out, p.reason == ReasonCode::kSuccess ? ack_flags : 0);
    put_u8(out, static_cast<std::uint8_t>(to_v311_connack(p.reason)));
    return;
  }
  const std::string props = properties_block(PropertyPlace::kConnack, p.properties);
  fixed_header(out, PacketType::kConnack, 0, 2 + props.size());
  put_u8(out, is_error(p.reason) ? 0 : ack_flags);
  put_u8(out, static_cast<std::uint8_t>(p.reason));
  out.append(props);
}

void encode_publish(Level level, const Publish& p, std::string& out) {
  FERRY_ASSERT(p.qos <= 2);
  FERRY_ASSERT(p.qos == 0 || p.packet_id != 0);
  const std::uint8_t flags =
      static_cast<std::uint8_t>((p.dup ? 0x08 : 0) | (p.qos << 1) | (p.retain ? 0x01 : 0));
  std::string props;
  if (level == Level::k5) props = properties_block(PropertyPlace::kPublish, p.properties);
  const std::size_t remaining = 2 + p.topic.size() + (p.qos > 0 ? 2 : 0) + props.size() + p.payload.size();
  fixed_header(out, PacketType::kPublish, flags, remaining);
  put_string(out, p.topic);
  if (p.qos > 0) put_u16(out, p.packet_id);
  out.append(props);
  out.append(p.payload);
}

void encode_pub_response(Level level, const PubResponse& p, std::string& out) {
  FERRY_ASSERT(p.type == PacketType::kPuback || p.type == PacketType::kPubrec || p.type == PacketType::kPubrel ||
               p.type == PacketType::kPubcomp);
  const std::uint8_t flags = p.type == PacketType::kPubrel ? 0x02 : 0x00;
  if (level != Level::k5 || (p.reason == ReasonCode::kSuccess && p.properties == Properties{})) {
    fixed_header(out, p.type, flags, 2);
    put_u16(out, p.packet_id);
    return;
  }
  const std::string props = properties_block(PropertyPlace::kPubResponse, p.properties);
  fixed_header(out, p.type, flags, 3 + props.size());
  put_u16(out, p.packet_id);
  put_u8(out, static_cast<std::uint8_t>(p.reason));
  out.append(props);
}

void encode_suback(Level level, const Suback& p, std::string& out) {
  std::string props;
  if (level == Level::k5) props = properties_block(PropertyPlace::kSuback, p.properties);
  fixed_header(out, PacketType::kSuback, 0, 2 + props.size() + p.reasons.size());
  put_u16(out, p.packet_id);
  out.append(props);
  for (ReasonCode c : p.reasons) {
    // 3.1.1 3.9.3: 0x00..0x02 granted QoS, 0x80 failure.
    const auto v = static_cast<std::uint8_t>(c);
    put_u8(out, level == Level::k5 || v <= 2 ? v : 0x80);
  }
}

void encode_unsuback(Level level, const Unsuback& p, std::string& out) {
  if (level != Level::k5) {
    fixed_header(out, PacketType::kUnsuback, 0, 2);
    put_u16(out, p.packet_id);
    return;
  }
  const std::string props = properties_block(PropertyPlace::kUnsuback, p.properties);
  fixed_header(out, PacketType::kUnsuback, 0, 2 + props.size() + p.reasons.size());
  put_u16(out, p.packet_id);
  out.append(props);
  for (ReasonCode c : p.reasons) put_u8(out, static_cast<std::uint8_t>(c));
}

void encode_pingresp(std::string& out) { fixed_header(out, PacketType::kPingresp, 0, 0); }

void encode_disconnect(Level level, const Disconnect& p, std::string& out) {
  FERRY_ASSERT(level == Level::k5);
  if (p.reason == ReasonCode::kSuccess && p.properties == Properties{}) {
    fixed_header(out, PacketType::kDisconnect, 0, 0);
    return;
  }
  const std::string props = properties_block(PropertyPlace::kDisconnect, p.properties);
  fixed_header(out, PacketType::kDisconnect, 0, 1 + props.size());
  put_u8(out, static_cast<std::uint8_t>(p.reason));
  out.append(props);
}

void encode_auth(const Auth& p, std::string& out) {
  const std::string props = properties_block(PropertyPlace::kAuth, p.properties);
  fixed_header(out, PacketType::kAuth, 0, 1 + props.size());
  put_u8(out, static_cast<std::uint8_t>(p.reason));
  out.append(props);
}

}  // namespace ferry::mqtt
