#include "mqtt/decoder.h"

#include <cstdint>

#include "mqtt/properties.h"
#include "mqtt/topic.h"
#include "mqtt/wire.h"

namespace ferry::mqtt {

namespace {

// A packet's body decoder: fills `out` or records the failure in `r`.
struct Body {
  Reader& r;
  std::uint8_t flags;
  std::optional<Level>& level;
  bool v5() const { return level == Level::k5; }

  bool connect(Connect& c) {
    std::string_view name;
    std::uint8_t lvl = 0;
    std::uint8_t f = 0;
    if (!r.utf8(name) || !r.u8(lvl)) return false;
    // 3.1.1 3.1.2.1-2 / 5 3.1.2.1-2: an unknown name or level is refused with
    // "unacceptable protocol version" (MQTT 3.1's "MQIsdp" included).
    if (name != "MQTT" || (lvl != 4 && lvl != 5)) {
      return r.fail(ReasonCode::kUnsupportedProtocolVersion, "unsupported protocol name or level");
    }
    level = static_cast<Level>(lvl);
    c.level = *level;
    if (!r.u8(f) || !r.u16(c.keep_alive)) return false;
    if ((f & 0x01) != 0) return r.fail(ReasonCode::kMalformedPacket, "CONNECT reserved flag set");
    c.clean_start = (f & 0x02) != 0;
    const bool will = (f & 0x04) != 0;
    const std::uint8_t will_qos = (f >> 3) & 0x03;
    const bool will_retain = (f & 0x20) != 0;
    const bool has_password = (f & 0x40) != 0;
    const bool has_username = (f & 0x80) != 0;
    if (will_qos == 3) return r.fail(ReasonCode::kMalformedPacket, "will QoS 3");
    if (!will && (will_qos != 0 || will_retain)) {
      return r.fail(ReasonCode::kMalformedPacket, "will QoS or retain without a will");
    }
    if (!v5() && has_password && !has_username) {
      return r.fail(ReasonCode::kMalformedPacket, "password without user name");
    }
    if (v5() && !read_properties(r, PropertyPlace::kConnect, c.properties)) return false;
    if (c.properties.authentication_data && !c.properties.authentication_method) {
      return r.fail(ReasonCode::kProtocolError, "authentication data without a method");
    }
    if (!r.utf8(c.client_id)) return false;
    if (will) {
      Will w;
      w.qos = will_qos;
      w.retain = will_retain;
      if (v5() && !read_properties(r, PropertyPlace::kWill, w.properties)) return false;
      if (!r.utf8(w.topic) || !r.binary(w.payload)) return false;
      if (check_topic_name(w.topic) != ReasonCode::kSuccess) {
        return r.fail(ReasonCode::kTopicNameInvalid, "will topic is not a valid topic name");
      }
      c.will = w;
    }
    if (has_username) {
      std::string_view u;
      if (!r.utf8(u)) return false;
      c.username = u;
    }
    if (has_password) {
      std::string_view p;
      if (!r.binary(p)) return false;
      c.password = p;
    }
    return true;
  }

  bool publish(Publish& p) {
    p.retain = (flags & 0x01) != 0;
    p.qos = (flags >> 1) & 0x03;
    p.dup = (flags & 0x08) != 0;
    if (p.qos == 3) return r.fail(ReasonCode::kMalformedPacket, "PUBLISH QoS 3");
    if (p.qos == 0 && p.dup) return r.fail(ReasonCode::kProtocolError, "DUP set on a QoS 0 PUBLISH");
    if (!r.utf8(p.topic)) return false;
    if (p.qos > 0) {
      if (!r.u16(p.packet_id)) return false;
      if (p.packet_id == 0) return r.fail(ReasonCode::kProtocolError, "packet identifier 0");
    }
    if (v5() && !read_properties(r, PropertyPlace::kPublish, p.properties)) return false;
    if (!p.properties.subscription_identifiers.empty()) {
      return r.fail(ReasonCode::kProtocolError, "subscription identifier in a client's PUBLISH");
    }
    if (p.topic.empty()) {
      if (!p.properties.topic_alias) return r.fail(ReasonCode::kProtocolError, "empty topic name without a topic alias");
    } else if (check_topic_name(p.topic) != ReasonCode::kSuccess) {
      return r.fail(ReasonCode::kTopicNameInvalid, "wildcard in a PUBLISH topic name");
    }
    return r.bytes(r.remaining(), p.payload);
  }

  bool pub_response(PacketType type, PubResponse& p) {
    p.type = type;
    if (!r.u16(p.packet_id)) return false;
    if (p.packet_id == 0) return r.fail(ReasonCode::kProtocolError, "packet identifier 0");
    if (!v5()) return true;
    // MQTT 5 3.4.2.1: no reason code means Success; no property length means none.
    if (r.at_end()) return true;
    std::uint8_t code = 0;
    if (!r.u8(code)) return false;
    p.reason = static_cast<ReasonCode>(code);
    const bool ok = (type == PacketType::kPubrel || type == PacketType::kPubcomp)
                        ? (code == 0x00 || code == 0x92)
                        : (code == 0x00 || code == 0x10 || code == 0x80 || code == 0x83 || code == 0x87 ||
                           code == 0x90 || code == 0x91 || code == 0x97 || code == 0x99);
    if (!ok) return r.fail(ReasonCode::kProtocolError, "reason code not allowed in this packet");
    if (r.at_end()) return true;
    return read_properties(r, PropertyPlace::kPubResponse, p.properties);
  }

  bool subscribe(Subscribe& s) {
    if (!r.u16(s.packet_id)) return false;
    if (s.packet_id == 0) return r.fail(ReasonCode::kProtocolError, "packet identifier 0");
    if (v5() && !read_properties(r, PropertyPlace::kSubscribe, s.properties)) return false;
    if (r.at_end()) return r.fail(ReasonCode::kProtocolError, "SUBSCRIBE without a topic filter");
    while (!r.at_end()) {
      Subscription sub;
      std::uint8_t o = 0;
      if (!r.utf8(sub.filter) || !r.u8(o)) return false;
      sub.options.qos = o & 0x03;
      if (sub.options.qos == 3) return r.fail(ReasonCode::kMalformedPacket, "subscription QoS 3");
      if (v5()) {
        if ((o & 0xC0) != 0) return r.fail(ReasonCode::kMalformedPacket, "subscription options reserved bits set");
        sub.options.no_local = (o & 0x04) != 0;
        sub.options.retain_as_published = (o & 0x08) != 0;
        sub.options.retain_handling = (o >> 4) & 0x03;
        if (sub.options.retain_handling == 3) return r.fail(ReasonCode::kProtocolError, "retain handling 3");
      } else if ((o & 0xFC) != 0) {
        return r.fail(ReasonCode::kMalformedPacket, "requested QoS reserved bits set");
      }
      s.subscriptions.push_back(sub);
    }
    return true;
  }

  bool unsubscribe(Unsubscribe& u) {
    if (!r.u16(u.packet_id)) return false;
    if (u.packet_id == 0) return r.fail(ReasonCode::kProtocolError, "packet identifier 0");
    if (v5() && !read_properties(r, PropertyPlace::kUnsubscribe, u.properties)) return false;
    if (r.at_end()) return r.fail(ReasonCode::kProtocolError, "UNSUBSCRIBE without a topic filter");
    while (!r.at_end()) {
      std::string_view f;
      if (!r.utf8(f)) return false;
      u.filters.push_back(f);
    }
    return true;
  }

  // DISCONNECT and AUTH: an optional reason code, then optional properties.
  bool reason_and_properties(PropertyPlace place, ReasonCode& reason, Properties& props) {
    if (r.at_end()) return true;
    std::uint8_t code = 0;
    if (!r.u8(code)) return false;
    reason = static_cast<ReasonCode>(code);
    if (place == PropertyPlace::kAuth && code != 0x00 && code != 0x18 && code != 0x19) {
      return r.fail(ReasonCode::kProtocolError, "reason code not allowed in AUTH");
    }
    if (r.at_end()) return true;
    return read_properties(r, place, props);
  }
};

// Required flags of the fixed header's low nibble (spec 2.1.3), -1 for
// PUBLISH whose flags carry DUP, QoS and RETAIN.
int required_flags(PacketType t) {
  switch (t) {
    case PacketType::kPublish: return -1;
    case PacketType::kPubrel:
    case PacketType::kSubscribe:
    case PacketType::kUnsubscribe: return 0x02;
    default: return 0x00;
  }
}

}  // namespace

Decoder::Decoder(std::size_t max_packet_size) : max_packet_size_(max_packet_size) {}

Decoder::Result Decoder::fail(ReasonCode code, std::string_view rule) {
  error_ = Result{Status::kError, 0, code, rule};
  return error_;
}

Decoder::Result Decoder::next(std::string_view data, ClientPacket& out) {
  if (error_.status == Status::kError) return error_;
  if (data.empty()) return {};
  const auto first = static_cast<std::uint8_t>(data[0]);
  const auto type_value = static_cast<std::uint8_t>(first >> 4);
  const std::uint8_t flags = first & 0x0F;
  // The type and flags are checked before waiting for the body, so garbage
  // is refused at once rather than after up to max_packet_size bytes.
  if (type_value == 0) return fail(ReasonCode::kMalformedPacket, "reserved packet type 0");
  const auto type = static_cast<PacketType>(type_value);
  if (type == PacketType::kAuth && level_ != Level::k5) {
    return fail(ReasonCode::kMalformedPacket, "reserved packet type 15 (AUTH is MQTT 5)");
  }
  const int want = required_flags(type);
  if (want >= 0 && flags != want) return fail(ReasonCode::kMalformedPacket, "wrong fixed header flags");
  if (!connected_ && type != PacketType::kConnect) {
    return fail(ReasonCode::kProtocolError, "first packet is not CONNECT");
  }
  if (connected_ && type == PacketType::kConnect) return fail(ReasonCode::kProtocolError, "second CONNECT");
  if (type == PacketType::kConnack || type == PacketType::kSuback || type == PacketType::kUnsuback ||
      type == PacketType::kPingresp) {
    return fail(ReasonCode::kProtocolError, "a packet only a server sends");
  }
  // Only then the remaining length: every check above needs the first byte
  // alone, so a stream split anywhere gets the same answer as a whole one.
  std::uint32_t remaining = 0;
  const int n = decode_variable_int(data.substr(1), remaining);
  if (n < 0) return fail(ReasonCode::kMalformedPacket, "bad remaining length");
  if (n == 0) return {};  // the remaining length is still arriving
  const std::size_t total = 1 + static_cast<std::size_t>(n) + remaining;
  if (total > max_packet_size_) return fail(ReasonCode::kPacketTooLarge, "packet larger than the maximum packet size");
  if (data.size() < total) return {};

  Reader r(data.substr(1 + static_cast<std::size_t>(n), remaining));
  Body body{r, flags, level_};
  bool ok = false;
  switch (type) {
    case PacketType::kConnect: {
      Connect c;
      ok = body.connect(c);
      if (ok) {
        connected_ = true;
        out = std::move(c);
      }
      break;
    }
    case PacketType::kPublish: {
      Publish p;
      ok = body.publish(p);
      if (ok) out = std::move(p);
      break;
    }
    case PacketType::kPuback:
    case PacketType::kPubrec:
    case PacketType::kPubrel:
    case PacketType::kPubcomp: {
      PubResponse p;
      ok = body.pub_response(type, p);
      if (ok) out = std::move(p);
      break;
    }
    case PacketType::kSubscribe: {
      Subscribe s;
      ok = body.subscribe(s);
      if (ok) out = std::move(s);
      break;
    }
    case PacketType::kUnsubscribe: {
      Unsubscribe u;
      ok = body.unsubscribe(u);
      if (ok) out = std::move(u);
      break;
    }
    case PacketType::kPingreq:
      ok = true;
      out = Pingreq{};
      break;
    case PacketType::kDisconnect: {
      Disconnect d;
      ok = level_ == Level::k5 ? body.reason_and_properties(PropertyPlace::kDisconnect, d.reason, d.properties)
                               : true;
      if (ok) out = std::move(d);
      break;
    }
    case PacketType::kAuth: {
      Auth a;
      ok = body.reason_and_properties(PropertyPlace::kAuth, a.reason, a.properties);
      if (ok) out = std::move(a);
      break;
    }
    default:
      return fail(ReasonCode::kProtocolError, "a packet only a server sends");
  }
  if (!ok) return fail(r.error(), r.rule());
  if (!r.at_end()) return fail(ReasonCode::kMalformedPacket, "bytes after the packet's fields");
  return Result{Status::kPacket, total, ReasonCode::kSuccess, {}};
}

}  // namespace ferry::mqtt
