#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "broker/destination.h"
#include "common/result.h"
#include "stomp/frame.h"

namespace ferry::session {

// STOMP's destination headers read as the broker's destinations:
// /queue/NAME, /topic/NAME, /stream/NAME, /amq/queue/NAME (both queue forms
// name a stream with RabbitMQ's x-queue-type:stream), /exchange/amq.topic/KEY
// (RabbitMQ's /topic/KEY; other /exchange/ forms are the session's), or a bare NAME (ActiveMQ,
// Artemis), which is a queue or a topic by the frame's `destination-type`
// (ANYCAST, MULTICAST) or else default-destination-type. The last few
// parsed are kept: a producer names the same few in every SEND (a name past
// 15 characters would cost an allocation per copy otherwise).
class StompDestinations {
 public:
  explicit StompDestinations(broker::DestinationKind default_kind) : default_kind_(default_kind) {}

  // The frame's `destination`, parsed; shared, so a SEND hands it to the
  // queue's shard as is.
  Result<std::shared_ptr<const broker::Destination>> of(const stomp::Frame& f, const std::string& vhost);
  // `text` as a destination of a frame of this connection.
  std::optional<broker::Destination> parse(const stomp::Frame& f, std::string_view text,
                                           const std::string& vhost) const;

 private:
  // RabbitMQ's dialect: /queue/NAME or /amq/queue/NAME with
  // `x-queue-type:stream` is the stream NAME.
  static void rabbitmq_stream_queue(const stomp::Frame& f, broker::Destination& d);
  struct Parsed {
    std::string text;  // as the frame has it
    std::shared_ptr<const broker::Destination> destination;
  };
  broker::DestinationKind default_kind_;
  std::array<Parsed, 4> parsed_;
  std::size_t next_ = 0;
};

}  // namespace ferry::session
