#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "broker/destination.h"
#include "common/result.h"

namespace ferry::broker {

// x-overflow: what a queue at its x-max-length / x-max-length-bytes does
// with one more message (RabbitMQ's values).
enum class Overflow : std::uint8_t {
  kDropHead,          // the oldest waiting message goes (dead-lettered if the queue has a DLX)
  kRejectPublish,     // the new message is refused (the SEND gets an ERROR)
  kRejectPublishDlx,  // refused, and dead-lettered
};

// RabbitMQ's optional queue arguments ("x-arguments"), as STOMP headers on
// SEND/SUBSCRIBE to /queue/NAME and /amq/queue/NAME and as the `arguments`
// object of PUT /api/queues/VHOST/NAME (docs/dialects.md, "Queue
// arguments"). Fixed when the queue is created; a later declaration with
// other arguments is refused (mismatch()), never applied.
//
// A value type: absent fields were not given. Every value is bounded, so a
// declaration costs at most a few hundred bytes.
struct QueueArguments {
  static constexpr std::uint64_t kMaxNumber = std::uint64_t{1} << 52;  // ms or counts
  static constexpr std::size_t kMaxName = 255;  // exchange names, routing keys (AMQP shortstr)

  std::optional<std::uint64_t> max_length;        // x-max-length: waiting messages
  std::optional<std::uint64_t> max_length_bytes;  // x-max-length-bytes: their body bytes
  std::optional<Overflow> overflow;               // x-overflow (absent: drop-head)
  std::optional<std::uint64_t> message_ttl;       // x-message-ttl, ms
  std::optional<std::uint64_t> expires;           // x-expires, ms unused before the queue goes
  std::optional<std::string> dead_letter_exchange;     // x-dead-letter-exchange ("" = default)
  std::optional<std::string> dead_letter_routing_key;  // x-dead-letter-routing-key
  std::optional<std::uint8_t> max_priority;       // x-max-priority, 0-255
  std::optional<bool> single_active_consumer;     // x-single-active-consumer
  std::optional<std::string> queue_type;          // x-queue-type: classic or quorum
  // x-delivery-limit (RabbitMQ's quorum queues): failed deliveries (NACKed
  // or returned by a consumer that left) allowed before the message is
  // dead-lettered; overrides max-deliveries for this queue (a limit of N
  // is max-deliveries N + 1).
  std::optional<std::uint64_t> delivery_limit;
  // Redelivery delay (ActiveMQ's redeliveryPolicy: initialRedeliveryDelay,
  // backOffMultiplier, maximumRedeliveryDelay): a message given back (NACK
  // with requeue, or its consumer gone) waits x-redelivery-delay ms before
  // it can be delivered again, times x-redelivery-backoff-multiplier for
  // each earlier redelivery (whole numbers; 1, the default, is no backoff),
  // at most x-max-redelivery-delay ms.
  std::optional<std::uint64_t> redelivery_delay;
  std::optional<std::uint64_t> redelivery_backoff_multiplier;
  std::optional<std::uint64_t> max_redelivery_delay;

  // Whether `name` is one of the arguments above (a STOMP header so named is
  // read as one; other x- headers are not queue arguments).
  static bool is_argument(std::string_view name);
  // Every argument name, in the fixed order of items().
  static std::span<const std::string_view> names();
  // Reads one argument from its text (a STOMP header value, trimmed as
  // RabbitMQ trims it). The Error names the argument and the value.
  Status set(std::string_view name, std::string_view value);
  // The arguments of a management API body (`"arguments": {...}`): numbers
  // as JSON numbers or numeric strings, booleans as JSON booleans or text.
  // An unknown argument is an Error (never silently ignored).
  static Result<QueueArguments> from_json(const nlohmann::json& j);
  // Typed JSON (numbers, strings, booleans), RabbitMQ's `arguments` field.
  nlohmann::json to_json() const;
  // What only the whole set can tell: x-dead-letter-routing-key without an
  // exchange, or empty for the default exchange. Where a dead letter goes
  // is ShardBroker::dead_letter_move's (docs/routing.md).
  Status validate() const;

  bool empty() const { return items().empty(); }
  // (name, value text) of each argument given, in a fixed order.
  std::vector<std::pair<std::string_view, std::string>> items() const;
  // RabbitMQ's PRECONDITION_FAILED text naming the first argument in which
  // `requested` (a declaration) differs from `current` (the queue's), or
  // nullopt when they are equivalent (x-queue-type absent = classic).
  static std::optional<std::string> mismatch(const QueueArguments& requested, const QueueArguments& current,
                                             const Destination& queue);
  bool dead_letters() const { return dead_letter_exchange.has_value(); }
  // How long a message given back after its `deliveries`-th delivery waits
  // before it can be delivered again (0: not at all).
  std::uint64_t redelivery_delay_after(std::uint32_t deliveries) const;
  Overflow overflow_mode() const { return overflow.value_or(Overflow::kDropHead); }
  bool bounded() const { return max_length || max_length_bytes; }
  friend bool operator==(const QueueArguments&, const QueueArguments&) = default;
};

}  // namespace ferry::broker
