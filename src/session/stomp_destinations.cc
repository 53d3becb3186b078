#include "session/stomp_destinations.h"

#include <fmt/format.h>

#include "session/errors.h"

namespace ferry::session {

Result<std::shared_ptr<const broker::Destination>> StompDestinations::of(const stomp::Frame& f,
                                                                        const std::string& vhost) {
  auto text = f.get("destination");
  if (!text)
    return Error{std::string(errors::kMissingDestination),
                 fmt::format("{} requires a destination header", stomp::to_string(f.command))};
  // A bare name's meaning can depend on the frame's destination-type: those
  // are not cached.
  const bool cacheable = text->starts_with('/') || !f.get("destination-type");
  if (cacheable)
    for (const Parsed& p : parsed_)
      if (p.destination != nullptr && p.text == *text && p.destination->vhost == vhost) return p.destination;
  auto d = parse(f, *text, vhost);
  if (!d)
    return Error{std::string(errors::kUnknownDestination),
                 fmt::format("'{}' is not a destination: use /queue/NAME, /topic/NAME, /exchange/NAME[/KEY] or a bare NAME "
                             "(destination-type ANYCAST or MULTICAST, if any)",
                             *text)};
  auto shared = std::make_shared<const broker::Destination>(std::move(*d));
  if (!cacheable) return shared;
  Parsed& slot = parsed_[next_++ % parsed_.size()];
  slot.text.assign(*text);
  slot.destination = shared;
  return shared;
}

std::optional<broker::Destination> StompDestinations::parse(const stomp::Frame& f, std::string_view text,
                                                            const std::string& vhost) const {
  // RabbitMQ's /topic/KEY is amq.topic with routing key KEY: the same
  // topic, whichever form a client names it by (docs/dialects.md).
  static constexpr std::string_view kAmqTopic = "/exchange/amq.topic/";
  if (text.starts_with(kAmqTopic) && text.size() > kAmqTopic.size())
    return broker::Destination{broker::DestinationKind::kTopic, std::string(text.substr(kAmqTopic.size())), vhost};
  if (text.empty() || text.starts_with('/')) return broker::parse_destination(text, vhost);
  // ActiveMQ reads an unprefixed name as a queue (`ActiveMQ.DLQ`); Artemis
  // as an address, routed as the destination-type header says.
  broker::DestinationKind kind = default_kind_;
  if (auto type = f.get("destination-type")) {
    if (*type == "ANYCAST") kind = broker::DestinationKind::kQueue;
    else if (*type == "MULTICAST") kind = broker::DestinationKind::kTopic;
    else return std::nullopt;
  }
  broker::Destination d;
  d.kind = kind;
  d.name = std::string(text);
  d.vhost = vhost;
  return d;
}

}  // namespace ferry::session
