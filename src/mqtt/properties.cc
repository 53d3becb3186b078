#include "mqtt/properties.h"

#include <bitset>

#include "common/assert.h"
#include "mqtt/utf8.h"

namespace ferry::mqtt {

namespace {

enum class Type : std::uint8_t { kByte, kTwo, kFour, kVarInt, kUtf8, kBinary, kPair };

constexpr unsigned bit(PropertyPlace p) { return 1u << static_cast<unsigned>(p); }

struct Spec {
  Type type;
  unsigned places;  // bits of PropertyPlace
};

using P = PropertyPlace;
constexpr unsigned kAllPlaces = bit(P::kConnect) | bit(P::kConnack) | bit(P::kPublish) | bit(P::kWill) |
                                bit(P::kPubResponse) | bit(P::kSubscribe) | bit(P::kSuback) |
                                bit(P::kUnsubscribe) | bit(P::kUnsuback) | bit(P::kDisconnect) | bit(P::kAuth);

// The table of spec 2.2.2.2: type and the packets each property may be in.
// Unknown identifiers have places == 0.
constexpr Spec spec_of(std::uint32_t id) {
  switch (id) {
    case 0x01: return {Type::kByte, bit(P::kPublish) | bit(P::kWill)};
    case 0x02: return {Type::kFour, bit(P::kPublish) | bit(P::kWill)};
    case 0x03: return {Type::kUtf8, bit(P::kPublish) | bit(P::kWill)};
    case 0x08: return {Type::kUtf8, bit(P::kPublish) | bit(P::kWill)};
    case 0x09: return {Type::kBinary, bit(P::kPublish) | bit(P::kWill)};
    case 0x0B: return {Type::kVarInt, bit(P::kPublish) | bit(P::kSubscribe)};
    case 0x11: return {Type::kFour, bit(P::kConnect) | bit(P::kConnack) | bit(P::kDisconnect)};
    case 0x12: return {Type::kUtf8, bit(P::kConnack)};
    case 0x13: return {Type::kTwo, bit(P::kConnack)};
    case 0x15: return {Type::kUtf8, bit(P::kConnect) | bit(P::kConnack) | bit(P::kAuth)};
    case 0x16: return {Type::kBinary, bit(P::kConnect) | bit(P::kConnack) | bit(P::kAuth)};
    case 0x17: return {Type::kByte, bit(P::kConnect)};
    case 0x18: return {Type::kFour, bit(P::kWill)};
    case 0x19: return {Type::kByte, bit(P::kConnect)};
    case 0x1A: return {Type::kUtf8, bit(P::kConnack)};
    case 0x1C: return {Type::kUtf8, bit(P::kConnack) | bit(P::kDisconnect)};
    case 0x1F:
      return {Type::kUtf8, bit(P::kConnack) | bit(P::kPubResponse) | bit(P::kSuback) | bit(P::kUnsuback) |
                               bit(P::kDisconnect) | bit(P::kAuth)};
    case 0x21: return {Type::kTwo, bit(P::kConnect) | bit(P::kConnack)};
    case 0x22: return {Type::kTwo, bit(P::kConnect) | bit(P::kConnack)};
    case 0x23: return {Type::kTwo, bit(P::kPublish)};
    case 0x24: return {Type::kByte, bit(P::kConnack)};
    case 0x25: return {Type::kByte, bit(P::kConnack)};
    case 0x26: return {Type::kPair, kAllPlaces};
    case 0x27: return {Type::kFour, bit(P::kConnect) | bit(P::kConnack)};
    case 0x28: return {Type::kByte, bit(P::kConnack)};
    case 0x29: return {Type::kByte, bit(P::kConnack)};
    case 0x2A: return {Type::kByte, bit(P::kConnack)};
    default: return {Type::kByte, 0};
  }
}

// A byte property whose only values are 0 and 1.
bool boolean_byte(std::uint32_t id) {
  return id == 0x01 || id == 0x17 || id == 0x19 || id == 0x24 || id == 0x25 || id == 0x28 || id == 0x29 ||
         id == 0x2A;
}

}  // namespace

bool read_properties(Reader& r, PropertyPlace place, Properties& out) {
  out = Properties{};
  std::uint32_t length = 0;
  std::string_view block;
  if (!r.variable_int(length) || !r.bytes(length, block)) return false;
  Reader in(block);
  std::bitset<128> seen;
  auto fail = [&](ReasonCode code, const char* rule) { return r.fail(code, rule); };
  while (!in.at_end()) {
    std::uint32_t id = 0;
    if (!in.variable_int(id)) return fail(in.error(), in.rule());
    const Spec spec = spec_of(id);
    if ((spec.places & bit(place)) == 0) {
      return fail(ReasonCode::kMalformedPacket, "property not allowed in this packet");
    }
    // Only User Property repeats; a server's PUBLISH may carry several
    // Subscription Identifiers (spec 3.3.2.3.8).
    const bool repeatable = id == 0x26 || (id == 0x0B && place == P::kPublish);
    if (seen[id] && !repeatable) return fail(ReasonCode::kProtocolError, "property given twice");
    seen[id] = true;
    std::uint8_t b = 0;
    std::uint16_t s = 0;
    std::uint32_t w = 0;
    std::string_view v;
    std::string_view v2;
    switch (spec.type) {
      case Type::kByte: in.u8(b); w = b; break;
      case Type::kTwo: in.u16(s); w = s; break;
      case Type::kFour: in.u32(w); break;
      case Type::kVarInt: in.variable_int(w); break;
      case Type::kUtf8: in.utf8(v); break;
      case Type::kBinary: in.binary(v); break;
      case Type::kPair: in.utf8(v) && in.utf8(v2); break;
    }
    if (in.failed()) return fail(in.error(), in.rule());
    if (boolean_byte(id) && w > 1) return fail(ReasonCode::kProtocolError, "property value must be 0 or 1");
    switch (id) {
      case 0x01: out.payload_format_indicator = b; break;
      case 0x02: out.message_expiry_interval = w; break;
      case 0x03: out.content_type = v; break;
      case 0x08: out.response_topic = v; break;
      case 0x09: out.correlation_data = v; break;
      case 0x0B:
        if (w == 0) return fail(ReasonCode::kProtocolError, "subscription identifier 0");
        out.subscription_identifiers.push_back(w);
        break;
      case 0x11: out.session_expiry_interval = w; break;
      case 0x12: out.assigned_client_identifier = v; break;
      case 0x13: out.server_keep_alive = s; break;
      case 0x15: out.authentication_method = v; break;
      case 0x16: out.authentication_data = v; break;
      case 0x17: out.request_problem_information = b; break;
      case 0x18: out.will_delay_interval = w; break;
      case 0x19: out.request_response_information = b; break;
      case 0x1A: out.response_information = v; break;
      case 0x1C: out.server_reference = v; break;
      case 0x1F: out.reason_string = v; break;
      case 0x21:
        if (s == 0) return fail(ReasonCode::kProtocolError, "receive maximum 0");
        out.receive_maximum = s;
        break;
      case 0x22: out.topic_alias_maximum = s; break;
      case 0x23:
        if (s == 0) return fail(ReasonCode::kProtocolError, "topic alias 0");
        out.topic_alias = s;
        break;
      case 0x24: out.maximum_qos = b; break;
      case 0x25: out.retain_available = b; break;
      case 0x26: out.user_properties.push_back({v, v2}); break;
      case 0x27:
        if (w == 0) return fail(ReasonCode::kProtocolError, "maximum packet size 0");
        out.maximum_packet_size = w;
        break;
      case 0x28: out.wildcard_subscription_available = b; break;
      case 0x29: out.subscription_identifiers_available = b; break;
      case 0x2A: out.shared_subscription_available = b; break;
      default: FERRY_ASSERT(false);
    }
  }
  return true;
}

namespace {

void check_place(PropertyPlace place, std::uint32_t id) { FERRY_ASSERT((spec_of(id).places & bit(place)) != 0); }

void put_body(std::string& out, PropertyPlace place, const Properties& p) {
  auto byte = [&](std::uint8_t id, const std::optional<std::uint8_t>& v) {
    if (!v) return;
    check_place(place, id);
    put_u8(out, id);
    put_u8(out, *v);
  };
  auto two = [&](std::uint8_t id, const std::optional<std::uint16_t>& v) {
    if (!v) return;
    check_place(place, id);
    put_u8(out, id);
    put_u16(out, *v);
  };
  auto four = [&](std::uint8_t id, const std::optional<std::uint32_t>& v) {
    if (!v) return;
    check_place(place, id);
    put_u8(out, id);
    put_u32(out, *v);
  };
  auto str = [&](std::uint8_t id, const std::optional<std::string_view>& v) {
    if (!v) return;
    check_place(place, id);
    put_u8(out, id);
    put_string(out, *v);
  };
  byte(0x01, p.payload_format_indicator);
  four(0x02, p.message_expiry_interval);
  str(0x03, p.content_type);
  str(0x08, p.response_topic);
  str(0x09, p.correlation_data);
  for (std::uint32_t id : p.subscription_identifiers) {
    check_place(place, 0x0B);
    put_u8(out, 0x0B);
    put_variable_int(out, id);
  }
  four(0x11, p.session_expiry_interval);
  str(0x12, p.assigned_client_identifier);
  two(0x13, p.server_keep_alive);
  str(0x15, p.authentication_method);
  str(0x16, p.authentication_data);
  byte(0x17, p.request_problem_information);
  four(0x18, p.will_delay_interval);
  byte(0x19, p.request_response_information);
  str(0x1A, p.response_information);
  str(0x1C, p.server_reference);
  str(0x1F, p.reason_string);
  two(0x21, p.receive_maximum);
  two(0x22, p.topic_alias_maximum);
  two(0x23, p.topic_alias);
  byte(0x24, p.maximum_qos);
  byte(0x25, p.retain_available);
  for (const UserProperty& u : p.user_properties) {
    check_place(place, 0x26);
    put_u8(out, 0x26);
    put_string(out, u.name);
    put_string(out, u.value);
  }
  four(0x27, p.maximum_packet_size);
  byte(0x28, p.wildcard_subscription_available);
  byte(0x29, p.subscription_identifiers_available);
  byte(0x2A, p.shared_subscription_available);
}

}  // namespace

std::string properties_block(PropertyPlace place, const Properties& p) {
  std::string block;
  if (p == Properties{}) {
    block.push_back('\0');  // the common case: a zero length, no allocation (small string)
    return block;
  }
  std::string body;
  put_body(body, place, p);
  put_variable_int(block, static_cast<std::uint32_t>(body.size()));
  block.append(body);
  return block;
}

}  // namespace ferry::mqtt
