#pragma once

#include <string>
#include <string_view>

#include "mqtt/topic.h"

namespace ferry::session {

// MQTT topics on Ferry's topics, as RabbitMQ maps them (docs/mqtt.md):
// MQTT's level separator '/' is the routing key's word separator '.', and
// a '.' inside an MQTT level becomes '/', so the mapping is its own
// inverse. MQTT topic `a/b/c` is `/topic/a.b.c`; filter `a/+/#` is the
// wildcard topic `a.*.#`.

// "a/b.c" -> "a.b/c" (and back: the same function).
std::string swap_separators(std::string_view s);

// An MQTT topic name -> the Ferry topic name (without "/topic/").
inline std::string topic_of_mqtt(std::string_view mqtt_topic) { return swap_separators(mqtt_topic); }

// A parsed MQTT filter (no share group) -> the Ferry topic pattern: levels
// swapped as above, '+' -> '*', '#' -> '#'.
std::string pattern_of_filter(std::string_view filter);

// A delivered message's destination ("/topic/a.b.c", or any other
// destination form) -> the MQTT topic name the subscriber sees ("a/b/c").
std::string mqtt_topic_of_destination(std::string_view destination);

}  // namespace ferry::session
