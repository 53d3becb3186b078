#pragma once

#include <cstdint>
#include <string_view>

namespace ferry::mqtt {

// MQTT 5 reason codes (spec 2.4), also used inside the codec for MQTT 3.1.1,
// whose packets carry fewer of them: encoders map a reason code to the
// 3.1.1 return code (CONNACK, SUBACK) or drop it (PUBACK, UNSUBACK,
// DISCONNECT). A decoding error is one of the >= 0x80 codes; for 3.1.1 the
// session just closes the connection (3.1.1 has no DISCONNECT from server).
enum class ReasonCode : std::uint8_t {
  kSuccess = 0x00,  // also Normal disconnection, Granted QoS 0
  kGrantedQos1 = 0x01,
  kGrantedQos2 = 0x02,
  kDisconnectWithWill = 0x04,
  kNoMatchingSubscribers = 0x10,
  kNoSubscriptionExisted = 0x11,
  kContinueAuthentication = 0x18,
  kReauthenticate = 0x19,
  kUnspecifiedError = 0x80,
  kMalformedPacket = 0x81,
  kProtocolError = 0x82,
  kImplementationSpecificError = 0x83,
  kUnsupportedProtocolVersion = 0x84,
  kClientIdentifierNotValid = 0x85,
  kBadUserNameOrPassword = 0x86,
  kNotAuthorized = 0x87,
  kServerUnavailable = 0x88,
  kServerBusy = 0x89,
  kBanned = 0x8A,
  kServerShuttingDown = 0x8B,
  kBadAuthenticationMethod = 0x8C,
  kKeepAliveTimeout = 0x8D,
  kSessionTakenOver = 0x8E,
  kTopicFilterInvalid = 0x8F,
  kTopicNameInvalid = 0x90,
  kPacketIdentifierInUse = 0x91,
  kPacketIdentifierNotFound = 0x92,
  kReceiveMaximumExceeded = 0x93,
  kTopicAliasInvalid = 0x94,
  kPacketTooLarge = 0x95,
  kMessageRateTooHigh = 0x96,
  kQuotaExceeded = 0x97,
  kAdministrativeAction = 0x98,
  kPayloadFormatInvalid = 0x99,
  kRetainNotSupported = 0x9A,
  kQosNotSupported = 0x9B,
  kUseAnotherServer = 0x9C,
  kServerMoved = 0x9D,
  kSharedSubscriptionsNotSupported = 0x9E,
  kConnectionRateExceeded = 0x9F,
  kMaximumConnectTime = 0xA0,
  kSubscriptionIdentifiersNotSupported = 0xA1,
  kWildcardSubscriptionsNotSupported = 0xA2,
};

// True for codes >= 0x80 (failures).
constexpr bool is_error(ReasonCode c) { return static_cast<std::uint8_t>(c) >= 0x80; }

// The spec's name ("Malformed Packet"); "unknown reason code" otherwise.
std::string_view describe(ReasonCode c);

// MQTT 3.1.1 CONNACK return codes (3.1.1 section 3.2.2.3).
enum class ConnectReturnCode : std::uint8_t {
  kAccepted = 0,
  kUnacceptableProtocolVersion = 1,
  kIdentifierRejected = 2,
  kServerUnavailable = 3,
  kBadUserNameOrPassword = 4,
  kNotAuthorized = 5,
};

// The 3.1.1 return code closest to an MQTT 5 CONNACK reason code.
ConnectReturnCode to_v311_connack(ReasonCode c);

}  // namespace ferry::mqtt
