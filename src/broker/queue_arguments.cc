#include "broker/queue_arguments.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

#include "common/ascii.h"

namespace ferry::broker {

namespace {

constexpr std::string_view kMaxLength = "x-max-length";
constexpr std::string_view kMaxLengthBytes = "x-max-length-bytes";
constexpr std::string_view kOverflow = "x-overflow";
constexpr std::string_view kMessageTtl = "x-message-ttl";
constexpr std::string_view kExpires = "x-expires";
constexpr std::string_view kDlx = "x-dead-letter-exchange";
constexpr std::string_view kDlrk = "x-dead-letter-routing-key";
constexpr std::string_view kMaxPriority = "x-max-priority";
constexpr std::string_view kSingleActive = "x-single-active-consumer";
constexpr std::string_view kQueueType = "x-queue-type";
constexpr std::string_view kDeliveryLimit = "x-delivery-limit";
constexpr std::string_view kRedeliveryDelay = "x-redelivery-delay";
constexpr std::string_view kBackoff = "x-redelivery-backoff-multiplier";
constexpr std::string_view kMaxRedeliveryDelay = "x-max-redelivery-delay";

// The order items() and mismatch() follow.
constexpr std::string_view kNames[] = {kMaxLength, kMaxLengthBytes, kOverflow,    kMessageTtl,   kExpires,
                                       kDlx,       kDlrk,           kMaxPriority, kSingleActive, kQueueType,
                                       kDeliveryLimit, kRedeliveryDelay, kBackoff, kMaxRedeliveryDelay};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Error bad(std::string_view name, std::string_view value, std::string_view want) {
  return failure("invalid queue argument " + std::string(name),
                 "'" + std::string(name) + ":" + std::string(value.substr(0, 64)) + "': " + std::string(want));
}

Result<std::uint64_t> number(std::string_view name, std::string_view value, std::uint64_t min) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc() || p != value.data() + value.size() || v < min ||
      v > QueueArguments::kMaxNumber)
    return bad(name, value,
               min == 0 ? "expected a whole number from 0 to 2^52" : "expected a whole number from 1 to 2^52");
  return v;
}

std::string_view overflow_name(Overflow o) {
  switch (o) {
    case Overflow::kDropHead: return "drop-head";
    case Overflow::kRejectPublish: return "reject-publish";
    case Overflow::kRejectPublishDlx: return "reject-publish-dlx";
  }
  return "drop-head";
}

// The text of argument `name` in `a`, or nullopt when absent.
std::optional<std::string> value_of(const QueueArguments& a, std::string_view name) {
  auto num = [](const std::optional<std::uint64_t>& v) {
    return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
  };
  if (name == kMaxLength) return num(a.max_length);
  if (name == kMaxLengthBytes) return num(a.max_length_bytes);
  if (name == kOverflow) return a.overflow ? std::optional<std::string>(overflow_name(*a.overflow)) : std::nullopt;
  if (name == kMessageTtl) return num(a.message_ttl);
  if (name == kExpires) return num(a.expires);
  if (name == kDlx) return a.dead_letter_exchange;
  if (name == kDlrk) return a.dead_letter_routing_key;
  if (name == kMaxPriority)
    return a.max_priority ? std::optional<std::string>(std::to_string(*a.max_priority)) : std::nullopt;
  if (name == kSingleActive)
    return a.single_active_consumer ? std::optional<std::string>(*a.single_active_consumer ? "true" : "false")
                                    : std::nullopt;
  if (name == kQueueType) return a.queue_type;
  if (name == kDeliveryLimit) return num(a.delivery_limit);
  if (name == kRedeliveryDelay) return num(a.redelivery_delay);
  if (name == kBackoff) return num(a.redelivery_backoff_multiplier);
  if (name == kMaxRedeliveryDelay) return num(a.max_redelivery_delay);
  return std::nullopt;
}

}  // namespace

std::span<const std::string_view> QueueArguments::names() { return kNames; }

bool QueueArguments::is_argument(std::string_view name) {
  for (std::string_view n : kNames)
    if (n == name) return true;
  return false;
}

Status QueueArguments::set(std::string_view name, std::string_view raw) {
  const std::string_view value = trim(raw);
  auto num = [&](std::optional<std::uint64_t>& field, std::uint64_t min) -> Status {
    auto v = number(name, value, min);
    if (!v) return v.error();
    field = *v;
    return {};
  };
  if (name == kMaxLength) return num(max_length, 0);
  if (name == kMaxLengthBytes) return num(max_length_bytes, 0);
  if (name == kMessageTtl) return num(message_ttl, 0);
  // RabbitMQ: x-expires must be positive (0 would delete the queue at once).
  if (name == kExpires) return num(expires, 1);
  if (name == kDeliveryLimit) return num(delivery_limit, 0);
  if (name == kRedeliveryDelay) return num(redelivery_delay, 0);
  if (name == kMaxRedeliveryDelay) return num(max_redelivery_delay, 0);
  if (name == kBackoff) {
    if (Status s = num(redelivery_backoff_multiplier, 1); !s) return s;
    if (*redelivery_backoff_multiplier > 1000) {
      redelivery_backoff_multiplier.reset();
      return bad(name, value, "expected a whole number from 1 to 1000");
    }
    return {};
  }
  if (name == kMaxPriority) {
    std::optional<std::uint64_t> v;
    if (Status s = num(v, 0); !s) return s;
    if (*v > 255) return bad(name, value, "expected a whole number from 0 to 255");
    max_priority = static_cast<std::uint8_t>(*v);
    return {};
  }
  if (name == kOverflow) {
    for (Overflow o : {Overflow::kDropHead, Overflow::kRejectPublish, Overflow::kRejectPublishDlx}) {
      if (value == overflow_name(o)) {
        overflow = o;
        return {};
      }
    }
    return bad(name, value, "expected drop-head, reject-publish or reject-publish-dlx");
  }
  if (name == kDlx || name == kDlrk) {
    if (value.size() > kMaxName) return bad(name, value, "longer than 255 bytes");
    (name == kDlx ? dead_letter_exchange : dead_letter_routing_key) = std::string(value);
    return {};
  }
  if (name == kSingleActive) {
    if (equals_ignoring_case(value, "true")) single_active_consumer = true;
    else if (equals_ignoring_case(value, "false")) single_active_consumer = false;
    else return bad(name, value, "expected true or false");
    return {};
  }
  if (name == kQueueType) {
    if (value == "classic" || value == "quorum") {
      queue_type = std::string(value);
      return {};
    }
    if (value == "stream")
      return failure("stream queues are declared by use, not here",
                     "x-queue-type:stream: a SEND or SUBSCRIBE to /stream/NAME, or to /queue/NAME with "
                     "x-queue-type:stream, makes the stream (docs/streams.md)");
    return bad(name, value, "expected classic or quorum");
  }
  return failure("unknown queue argument " + std::string(name.substr(0, 64)),
                 "known: x-max-length, x-max-length-bytes, x-overflow, x-message-ttl, x-expires, "
                 "x-dead-letter-exchange, x-dead-letter-routing-key, x-max-priority, "
                 "x-single-active-consumer, x-queue-type, x-delivery-limit, x-redelivery-delay, "
                 "x-redelivery-backoff-multiplier, x-max-redelivery-delay");
}

Result<QueueArguments> QueueArguments::from_json(const nlohmann::json& j) {
  QueueArguments a;
  if (j.is_null()) return a;
  if (!j.is_object()) return failure("invalid queue arguments", "\"arguments\" must be a JSON object");
  for (const auto& [name, v] : j.items()) {
    std::string text;
    if (v.is_string()) text = v.get<std::string>();
    else if (v.is_boolean()) text = v.get<bool>() ? "true" : "false";
    else if (v.is_number_unsigned()) text = std::to_string(v.get<std::uint64_t>());
    else if (v.is_number_integer()) text = std::to_string(v.get<std::int64_t>());  // negative: refused by set()
    else return bad(name, v.dump(), "expected a number, a string or a boolean");
    if (Status s = a.set(name, text); !s) return s.error();
  }
  return a;
}

nlohmann::json QueueArguments::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  auto put = [&](std::string_view name, const auto& v) {
    if (v) j[std::string(name)] = *v;
  };
  put(kMaxLength, max_length);
  put(kMaxLengthBytes, max_length_bytes);
  if (overflow) j[std::string(kOverflow)] = std::string(overflow_name(*overflow));
  put(kMessageTtl, message_ttl);
  put(kExpires, expires);
  put(kDlx, dead_letter_exchange);
  put(kDlrk, dead_letter_routing_key);
  if (max_priority) j[std::string(kMaxPriority)] = static_cast<unsigned>(*max_priority);
  put(kSingleActive, single_active_consumer);
  put(kQueueType, queue_type);
  put(kDeliveryLimit, delivery_limit);
  put(kRedeliveryDelay, redelivery_delay);
  put(kBackoff, redelivery_backoff_multiplier);
  put(kMaxRedeliveryDelay, max_redelivery_delay);
  return j;
}

Status QueueArguments::validate() const {
  // RabbitMQ refuses a routing key without an exchange to route it through.
  if (dead_letter_routing_key && !dead_letter_exchange)
    return failure("invalid queue argument x-dead-letter-routing-key",
                   "x-dead-letter-routing-key needs x-dead-letter-exchange (\"\" for the default exchange)");
  // Any exchange may take dead letters, declared or not yet (as RabbitMQ:
  // a dead letter for an exchange that does not exist then is dropped).
  // An empty routing key names no queue of the default exchange.
  if (dead_letter_routing_key && dead_letter_routing_key->empty() && dead_letter_exchange &&
      dead_letter_exchange->empty())
    return failure("invalid queue argument x-dead-letter-routing-key", "an empty routing key");
  return {};
}

std::uint64_t QueueArguments::redelivery_delay_after(std::uint32_t deliveries) const {
  if (!redelivery_delay || *redelivery_delay == 0) return 0;
  const std::uint64_t cap = max_redelivery_delay.value_or(kMaxNumber);
  const std::uint64_t multiplier = redelivery_backoff_multiplier.value_or(1);
  std::uint64_t delay = *redelivery_delay;
  // The first redelivery waits the delay; each later one `multiplier` times
  // the one before (saturating at the cap, so no overflow).
  for (std::uint32_t i = 1; i < deliveries && multiplier > 1 && delay < cap; ++i)
    delay = delay > cap / multiplier ? cap : delay * multiplier;
  return std::min(delay, cap);
}

std::vector<std::pair<std::string_view, std::string>> QueueArguments::items() const {
  std::vector<std::pair<std::string_view, std::string>> out;
  for (std::string_view n : kNames)
    if (auto v = value_of(*this, n)) out.emplace_back(n, std::move(*v));
  return out;
}

std::optional<std::string> QueueArguments::mismatch(const QueueArguments& requested, const QueueArguments& current,
                                                    const Destination& queue) {
  for (std::string_view n : kNames) {
    auto r = value_of(requested, n), c = value_of(current, n);
    if (n == kQueueType) {
      // No x-queue-type is the default type, classic.
      if (!r) r = "classic";
      if (!c) c = "classic";
    }
    if (r == c) continue;
    auto text = [](const std::optional<std::string>& v) { return v ? "'" + *v + "'" : std::string("none"); };
    return "PRECONDITION_FAILED - inequivalent arg '" + std::string(n) + "' for queue '" + queue.name +
           "' in vhost '" + queue.vhost + "': received " + text(r) + " but current is " + text(c);
  }
  return std::nullopt;
}

}  // namespace ferry::broker
