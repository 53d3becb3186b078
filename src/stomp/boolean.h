#pragma once

#include <optional>
#include <string_view>

namespace ferry::stomp {

// The value of a boolean header (persistent, requeue, durable, auto-delete,
// exclusive, browser, activemq.exclusive, ...): "true" or "false" in any
// letter case, as RabbitMQ, Artemis and Apollo read them; stomp.py writes
// Python's True/False. nullopt: not a boolean, which the caller answers with
// an ERROR naming the header, never with a default (a `persistent:True`
// read as false would silently lose the message at a restart).
std::optional<bool> parse_boolean(std::string_view value);

}  // namespace ferry::stomp
