#pragma once

#include <cstdint>
#include <string>

#include "mqtt/packet.h"
#include "mqtt/wire.h"

namespace ferry::mqtt {

// MQTT 5 property identifiers (spec 2.2.2.2).
enum class PropertyId : std::uint8_t {
  kPayloadFormatIndicator = 0x01,
  kMessageExpiryInterval = 0x02,
  kContentType = 0x03,
  kResponseTopic = 0x08,
  kCorrelationData = 0x09,
  kSubscriptionIdentifier = 0x0B,
  kSessionExpiryInterval = 0x11,
  kAssignedClientIdentifier = 0x12,
  kServerKeepAlive = 0x13,
  kAuthenticationMethod = 0x15,
  kAuthenticationData = 0x16,
  kRequestProblemInformation = 0x17,
  kWillDelayInterval = 0x18,
  kRequestResponseInformation = 0x19,
  kResponseInformation = 0x1A,
  kServerReference = 0x1C,
  kReasonString = 0x1F,
  kReceiveMaximum = 0x21,
  kTopicAliasMaximum = 0x22,
  kTopicAlias = 0x23,
  kMaximumQos = 0x24,
  kRetainAvailable = 0x25,
  kUserProperty = 0x26,
  kMaximumPacketSize = 0x27,
  kWildcardSubscriptionAvailable = 0x28,
  kSubscriptionIdentifierAvailable = 0x29,
  kSharedSubscriptionAvailable = 0x2A,
};

// Where a property block sits: each property is allowed in some of these.
enum class PropertyPlace : std::uint8_t {
  kConnect, kConnack, kPublish, kWill, kPubResponse, kSubscribe, kSuback,
  kUnsubscribe, kUnsuback, kDisconnect, kAuth,
};

// Reads a property block (Variable Byte Integer length, then properties)
// into `out`. Failures, recorded in the reader (spec 2.2.2.2 and the
// per-property rules of chapter 3):
//  - an identifier unknown or not allowed in `place`, a value running past
//    the block, bad UTF-8: kMalformedPacket;
//  - a property given twice (other than User Property, or Subscription
//    Identifier in a server's PUBLISH): kProtocolError;
//  - a value out of its range (Receive Maximum 0, Maximum Packet Size 0,
//    Subscription Identifier 0, Topic Alias 0, a 0/1 byte with another
//    value): kProtocolError.
bool read_properties(Reader& r, PropertyPlace place, Properties& out);

// The property block (length prefix included) for `p`, as the encoder
// writes it. The caller only sets properties allowed in `place` (asserted).
std::string properties_block(PropertyPlace place, const Properties& p);

}  // namespace ferry::mqtt
