#include "broker/durable_subscription.h"

namespace ferry::broker {

// Payload: "vhost\ntopic\nname" (names cannot contain LF: STOMP escapes it).
std::string encode_subscription(const DurableSubscription& s) {
  return s.vhost + '\n' + s.topic + '\n' + s.name;
}

std::optional<DurableSubscription> decode_subscription(std::string_view payload) {
  auto a = payload.find('\n');
  if (a == std::string_view::npos) return std::nullopt;
  auto b = payload.find('\n', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  DurableSubscription s;
  s.vhost = std::string(payload.substr(0, a));
  s.topic = std::string(payload.substr(a + 1, b - a - 1));
  s.name = std::string(payload.substr(b + 1));
  return s;
}

std::optional<std::string> subscription_key_of(std::string_view payload) {
  auto s = decode_subscription(payload);
  if (!s) return std::nullopt;
  return s->key();
}

}  // namespace ferry::broker
