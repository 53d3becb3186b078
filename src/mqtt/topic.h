#pragma once

#include <string_view>

#include "mqtt/reason_code.h"

namespace ferry::mqtt {

// Topic names and filters (spec 4.7). Both are UTF-8 strings the decoder
// has already checked for encoding; these check the MQTT structure.

// A PUBLISH topic name: at least one character, no '+' or '#'. Returns
// kSuccess or kTopicNameInvalid. (An empty name with a Topic Alias is the
// session's business: it resolves the alias before calling this.)
ReasonCode check_topic_name(std::string_view name);

// A parsed SUBSCRIBE/UNSUBSCRIBE topic filter. `share_group` is empty for a
// plain filter; for "$share/GROUP/f/#" it is "GROUP" and `filter` "f/#".
// Views into the string given to parse_topic_filter.
struct TopicFilter {
  std::string_view share_group;
  std::string_view filter;
  bool has_wildcard = false;
};

// Checks a topic filter: at least one character; '#' only as the whole last
// level; '+' only as a whole level; "$share/" followed by a non-empty group
// without '/', '+' or '#', a '/', and a valid non-empty filter. Returns
// kSuccess and fills `out`, or kTopicFilterInvalid.
ReasonCode parse_topic_filter(std::string_view text, TopicFilter& out);

// Whether `name` (a valid topic name) matches `filter` (a valid filter
// without share prefix), with spec 4.7.2's rule that a filter starting with
// a wildcard does not match names starting with '$'.
bool topic_matches(std::string_view filter, std::string_view name);

}  // namespace ferry::mqtt
