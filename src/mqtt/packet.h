#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "mqtt/reason_code.h"

namespace ferry::mqtt {

// MQTT control packets as the codec sees them (docs/mqtt.md; byte layouts
// in the MQTT 3.1.1 and 5.0 specifications, chapters 2 and 3).
//
// Decoded packets hold string_views into the caller's read buffer: they stay
// valid until the caller drops or moves those bytes. Packets given to the
// encoder may point anywhere; the encoder copies.

enum class PacketType : std::uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kPubrec = 5,
  kPubrel = 6,
  kPubcomp = 7,
  kSubscribe = 8,
  kSuback = 9,
  kUnsubscribe = 10,
  kUnsuback = 11,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
  kAuth = 15,  // MQTT 5 only
};

// The CONNECT packet's protocol level.
enum class Level : std::uint8_t { k3_1_1 = 4, k5 = 5 };

struct UserProperty {
  std::string_view name;
  std::string_view value;
  bool operator==(const UserProperty&) const = default;
};

// MQTT 5 properties (spec 2.2.2.2). Absent = not sent. Which may appear in
// which packet is checked by the decoder (properties.h).
struct Properties {
  std::optional<std::uint8_t> payload_format_indicator;       // 0x01
  std::optional<std::uint32_t> message_expiry_interval;       // 0x02
  std::optional<std::string_view> content_type;               // 0x03
  std::optional<std::string_view> response_topic;             // 0x08
  std::optional<std::string_view> correlation_data;           // 0x09 (binary)
  std::vector<std::uint32_t> subscription_identifiers;        // 0x0B (several only in server PUBLISH)
  std::optional<std::uint32_t> session_expiry_interval;       // 0x11
  std::optional<std::string_view> assigned_client_identifier; // 0x12
  std::optional<std::uint16_t> server_keep_alive;             // 0x13
  std::optional<std::string_view> authentication_method;      // 0x15
  std::optional<std::string_view> authentication_data;        // 0x16 (binary)
  std::optional<std::uint8_t> request_problem_information;    // 0x17
  std::optional<std::uint32_t> will_delay_interval;           // 0x18
  std::optional<std::uint8_t> request_response_information;   // 0x19
  std::optional<std::string_view> response_information;       // 0x1A
  std::optional<std::string_view> server_reference;           // 0x1C
  std::optional<std::string_view> reason_string;              // 0x1F
  std::optional<std::uint16_t> receive_maximum;               // 0x21
  std::optional<std::uint16_t> topic_alias_maximum;           // 0x22
  std::optional<std::uint16_t> topic_alias;                   // 0x23
  std::optional<std::uint8_t> maximum_qos;                    // 0x24
  std::optional<std::uint8_t> retain_available;               // 0x25
  std::vector<UserProperty> user_properties;                  // 0x26 (repeatable)
  std::optional<std::uint32_t> maximum_packet_size;           // 0x27
  std::optional<std::uint8_t> wildcard_subscription_available;        // 0x28
  std::optional<std::uint8_t> subscription_identifiers_available;     // 0x29
  std::optional<std::uint8_t> shared_subscription_available;          // 0x2A
  bool operator==(const Properties&) const = default;
};

struct Will {
  std::uint8_t qos = 0;
  bool retain = false;
  Properties properties;  // MQTT 5 Will Properties
  std::string_view topic;
  std::string_view payload;
  bool operator==(const Will&) const = default;
};

struct Connect {
  Level level = Level::k3_1_1;
  bool clean_start = false;  // 3.1.1 "Clean Session"
  std::uint16_t keep_alive = 0;  // seconds; 0 = off
  Properties properties;
  std::string_view client_id;  // may be empty
  std::optional<Will> will;
  std::optional<std::string_view> username;
  std::optional<std::string_view> password;  // binary
  bool operator==(const Connect&) const = default;
};

struct Connack {
  bool session_present = false;
  ReasonCode reason = ReasonCode::kSuccess;  // 3.1.1: mapped by to_v311_connack
  Properties properties;
};

struct Publish {
  bool dup = false;
  std::uint8_t qos = 0;
  bool retain = false;
  std::string_view topic;       // may be empty in MQTT 5 with a Topic Alias
  std::uint16_t packet_id = 0;  // 0 when qos == 0
  Properties properties;
  std::string_view payload;
  bool operator==(const Publish&) const = default;
};

// PUBACK, PUBREC, PUBREL and PUBCOMP share one layout.
struct PubResponse {
  PacketType type = PacketType::kPuback;
  std::uint16_t packet_id = 0;
  ReasonCode reason = ReasonCode::kSuccess;  // MQTT 5 only
  Properties properties;
  bool operator==(const PubResponse&) const = default;
};

struct SubscribeOptions {
  std::uint8_t qos = 0;
  bool no_local = false;             // MQTT 5
  bool retain_as_published = false; // MQTT 5
  std::uint8_t retain_handling = 0;  // MQTT 5: 0, 1 or 2
  bool operator==(const SubscribeOptions&) const = default;
};

struct Subscription {
  std::string_view filter;  // checked by parse_topic_filter (topic.h)
  SubscribeOptions options;
  bool operator==(const Subscription&) const = default;
};

struct Subscribe {
  std::uint16_t packet_id = 0;
  Properties properties;
  std::vector<Subscription> subscriptions;  // at least one
  bool operator==(const Subscribe&) const = default;
};

struct Suback {
  std::uint16_t packet_id = 0;
  Properties properties;
  std::vector<ReasonCode> reasons;  // 3.1.1: granted QoS or 0x80
};

struct Unsubscribe {
  std::uint16_t packet_id = 0;
  Properties properties;
  std::vector<std::string_view> filters;  // at least one
  bool operator==(const Unsubscribe&) const = default;
};

struct Unsuback {
  std::uint16_t packet_id = 0;
  Properties properties;
  std::vector<ReasonCode> reasons;  // MQTT 5 only; 3.1.1 UNSUBACK has none
};

struct Pingreq {
  bool operator==(const Pingreq&) const = default;
};

struct Disconnect {
  ReasonCode reason = ReasonCode::kSuccess;  // MQTT 5 only
  Properties properties;
  bool operator==(const Disconnect&) const = default;
};

struct Auth {  // MQTT 5 only
  ReasonCode reason = ReasonCode::kSuccess;
  Properties properties;
  bool operator==(const Auth&) const = default;
};

// What a client may send to a server.
using ClientPacket = std::variant<Connect, Publish, PubResponse, Subscribe, Unsubscribe, Pingreq, Disconnect, Auth>;

}  // namespace ferry::mqtt
