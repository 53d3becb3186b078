#include "broker/durable_subscription.h"

#include <cstdint>

namespace ferry::broker {

namespace {

// The first byte of the current form. The older text form starts with the
// vhost's first byte, never a control character (docs/journal.md).
constexpr char kFormWithOwner = 0x01;

void put_str(std::string& out, std::string_view s) {
  const auto n = static_cast<std::uint32_t>(s.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out.append(s);
}

bool get_str(std::string_view& in, std::string& s) {
  if (in.size() < 4) return false;
  std::uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= std::uint32_t{static_cast<std::uint8_t>(in[i])} << (8 * i);
  in.remove_prefix(4);
  if (in.size() < n) return false;
  s.assign(in.data(), n);
  in.remove_prefix(n);
  return true;
}

// The older form: "vhost\ntopic\nname" (the name last: it may hold a LF).
std::optional<DurableSubscription> decode_text_form(std::string_view payload) {
  auto a = payload.find('\n');
  if (a == std::string_view::npos) return std::nullopt;
  auto b = payload.find('\n', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  DurableSubscription s;
  s.vhost = std::string(payload.substr(0, a));
  s.topic = std::string(payload.substr(a + 1, b - a - 1));
  s.name = std::string(payload.substr(b + 1));
  return s;  // no owner
}

}  // namespace

std::string encode_subscription(const DurableSubscription& s) {
  std::string out;
  out.reserve(1 + 16 + s.vhost.size() + s.topic.size() + s.name.size() + s.owner.size());
  out.push_back(kFormWithOwner);
  put_str(out, s.vhost);
  put_str(out, s.topic);
  put_str(out, s.name);
  put_str(out, s.owner);
  return out;
}

std::optional<DurableSubscription> decode_subscription(std::string_view payload) {
  if (payload.empty()) return std::nullopt;
  if (payload.front() != kFormWithOwner) return decode_text_form(payload);
  payload.remove_prefix(1);
  DurableSubscription s;
  if (!get_str(payload, s.vhost) || !get_str(payload, s.topic) || !get_str(payload, s.name) ||
      !get_str(payload, s.owner) || !payload.empty())
    return std::nullopt;
  return s;
}

std::optional<std::string> subscription_key_of(std::string_view payload) {
  auto s = decode_subscription(payload);
  if (!s) return std::nullopt;
  return s->key();
}

}  // namespace ferry::broker
