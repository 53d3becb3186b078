#pragma once

#include <cstdint>
#include <string>

#include "broker/destination.h"
#include "stomp/limits.h"

namespace ferry::session {

// What a STOMP session is bound by and which dialect choices it makes
// (app/config fills it; every field is a `ferry serve` option).
struct StompOptions {
  stomp::Limits limits;                     // max-frame-size, max-headers, ...
  std::uint32_t max_subscriptions = 1000;   // per connection
  std::uint32_t max_composite_destinations = 64;  // elements of /queue/a,/queue/b,...
  std::uint32_t max_transactions = 100;     // open per connection
  std::uint32_t max_transaction_size = 10000;     // frames in one transaction
  std::uint64_t producer_window_size = 1u << 20;  // bytes in flight before reads pause
  std::uint32_t heart_beat_send_ms = 10000;  // the server offers to send every ...
  std::uint32_t heart_beat_recv_ms = 10000;  // the server wants to hear every ...
  // The shortest heart-beat interval agreed with a client in either
  // direction: a client asking for faster beats gets this (STOMP 1.2: the
  // agreed interval is the larger of what each side names).
  std::uint32_t heart_beat_min_ms = 500;
  // STOMP dialects (docs/dialects.md).
  bool strict_subscription_id = false;  // SUBSCRIBE without id at 1.1/1.2: ERROR (true) or id = destination
  // What a destination without /queue/ or /topic/ (ActiveMQ's `ActiveMQ.DLQ`) names.
  broker::DestinationKind default_destination_kind = broker::DestinationKind::kQueue;
  std::string server_header = "Ferry/0.1.0";  // CONNECTED `server`
};

}  // namespace ferry::session
