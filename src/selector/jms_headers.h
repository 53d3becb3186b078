#pragma once

#include <array>
#include <string_view>
#include <utility>

namespace ferry::selector {

// The JMS header names a selector may use and the STOMP header each reads
// (ActiveMQ's STOMP mapping). JMSDeliveryMode is special: it reads
// `persistent` and is 'PERSISTENT' when that is true, else 'NON_PERSISTENT'.
// Any other identifier is a STOMP header name as written (case-sensitive).
inline constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kJmsHeaders{{
    {"JMSPriority", "priority"},
    {"JMSType", "type"},
    {"JMSCorrelationID", "correlation-id"},
    {"JMSMessageID", "message-id"},
    {"JMSTimestamp", "timestamp"},
    {"JMSExpiration", "expires"},
    {"JMSXGroupID", "JMSXGroupID"},
}};
inline constexpr std::string_view kJmsDeliveryMode = "JMSDeliveryMode";

}  // namespace ferry::selector
