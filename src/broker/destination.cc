#include "broker/destination.h"

namespace ferry::broker {

namespace {

std::optional<std::string_view> strip(std::string_view text, std::string_view prefix) {
  if (text.size() <= prefix.size() || text.substr(0, prefix.size()) != prefix) return std::nullopt;
  return text.substr(prefix.size());
}

}  // namespace

std::string Destination::to_string() const {
  std::string out;
  to_string(out);
  return out;
}

void Destination::to_string(std::string& out) const {
  out.assign(kind == DestinationKind::kQueue   ? "/queue/"
             : kind == DestinationKind::kTopic ? "/topic/"
                                               : "/stream/")
      .append(name);
}

std::optional<Destination> destination_from_journal_key(std::string_view key) {
  if (!key.starts_with("q:")) return std::nullopt;
  key.remove_prefix(2);
  auto nl = key.find('\n');
  if (nl == std::string_view::npos || nl + 1 >= key.size()) return std::nullopt;
  Destination d;
  d.kind = DestinationKind::kQueue;
  d.vhost = std::string(key.substr(0, nl));
  d.name = std::string(key.substr(nl + 1));
  return d;
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
  } else if (auto n4 = strip(text, "/stream/")) {
    d.kind = DestinationKind::kStream;
    d.name = std::string(*n4);
  } else {
    return std::nullopt;
  }
  return d;
}

}  // namespace ferry::broker
