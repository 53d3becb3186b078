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
  // So can a queue's x-queue-type (rabbitmq_stream_queue).
  const bool cacheable = (text->starts_with('/') || !f.get("destination-type")) && !f.get("x-queue-type");
  if (cacheable)
    for (const Parsed& p : parsed_)
      if (p.destination != nullptr && p.text == *text && p.destination->vhost == vhost) return p.destination;
  auto d = parse(f, *text, vhost);
  if (!d)
    return Error{std::string(errors::kUnknownDestination),
                 fmt::format("'{}' is not a destination: use /queue/NAME, /topic/NAME, /exchange/NAME[/KEY], /stream/NAME or a bare NAME "
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
  if (text.empty() || text.starts_with('/')) {
    auto d = broker::parse_destination(text, vhost);
    if (d) rabbitmq_stream_queue(f, *d);
    return d;
  }
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

void StompDestinations::rabbitmq_stream_queue(const stomp::Frame& f, broker::Destination& d) {
  // RabbitMQ's STOMP plugin declares a stream queue from these headers;
  // in Ferry it is the stream of that name (/stream/NAME), a namespace of
  // its own. Other queue types (classic, quorum) are plain queues here.
  if (d.kind != broker::DestinationKind::kQueue) return;
  if (auto type = f.get("x-queue-type"); type && *type == "stream") d.kind = broker::DestinationKind::kStream;
}

}  // namespace ferry::session
