#include "broker/destination.h"

namespace ferry::broker {

namespace {

std::optional<std::string_view> strip(std::string_view text, std::string_view prefix) {
  if (text.size() <= prefix.size() || text.substr(0, prefix.size()) != prefix) return std::nullopt;
  return text.substr(prefix.size());
}

}  // namespace

std::string Destination::to_string() const {
  return (kind == DestinationKind::kQueue ? "/queue/" : "/topic/") + name;
}

std::optional<Destination> parse_destination(std::string_view text, std::string_view vhost) {
  Destination d;
  d.vhost = std::string(vhost);
  if (auto n = strip(text, "/queue/")) {
    d.kind = DestinationKind::kQueue;
    d.name = std::string(*n);
  } else if (auto n2 = strip(text, "/amq/queue/")) {
    d.kind = DestinationKind::kQueue;
    d.name = std::string(*n2);
  } else if (auto n3 = strip(text, "/topic/")) {
    d.kind = DestinationKind::kTopic;
    d.name = std::string(*n3);
  } else {
    return std::nullopt;
  }
  return d;
}

}  // namespace ferry::broker
