#include "session/mqtt_topics.h"

namespace ferry::session {

std::string swap_separators(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '/') c = '.';
    else if (c == '.') c = '/';
  }
  return out;
}

std::string pattern_of_filter(std::string_view filter) {
  // '+' and '#' stand alone in their level (mqtt::parse_topic_filter checked),
  // so they map character for character.
  std::string out = swap_separators(filter);
  for (char& c : out)
    if (c == '+') c = '*';
  return out;
}

std::string mqtt_topic_of_destination(std::string_view destination) {
  constexpr std::string_view kTopic = "/topic/";
  if (destination.starts_with(kTopic)) return swap_separators(destination.substr(kTopic.size()));
  // Another form (a queue, an exchange): its text without the leading '/'.
  if (destination.starts_with('/')) destination.remove_prefix(1);
  return std::string(destination);
}

}  // namespace ferry::session
