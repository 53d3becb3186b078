#pragma once

#include <string_view>

namespace ferry::mqtt {

// An MQTT UTF-8 Encoded String's content rule (spec 1.5.4 / 3.1.1 1.5.3):
// well-formed UTF-8 (RFC 3629: shortest form, no surrogates U+D800..U+DFFF,
// nothing above U+10FFFF) and no U+0000. Either failure makes the packet
// malformed. Control characters and non-characters are allowed (the spec
// says a receiver MAY refuse them; Ferry passes them through).
bool valid_mqtt_utf8(std::string_view s);

}  // namespace ferry::mqtt
