#include "broker/message_selector.h"

namespace ferry::broker {

namespace {
constexpr std::string_view kDigits[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
}  // namespace

std::optional<std::string_view> MessageHeaders::get(std::string_view name) const {
  // The fields first: they are what the broker acts on (a SEND's
  // `priority: 12` is delivered as 9), and `persistent` is kept as a header
  // only when true.
  if (name == "priority") return kDigits[m_.priority < 10 ? m_.priority : 9];
  if (name == "message-id") return std::string_view(m_.id_text);
  if (name == "destination") return std::string_view(m_.destination);
  if (name == "persistent") return m_.persistent ? std::string_view("true") : std::string_view("false");
  if (const std::string* v = m_.header(name)) return std::string_view(*v);
  return std::nullopt;
}

}  // namespace ferry::broker
