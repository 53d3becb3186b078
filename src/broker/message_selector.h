#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "broker/message.h"
#include "selector/selector.h"

namespace ferry::broker {

// A consumer's compiled selector, shared by the session that parsed it and
// the queue or topic that applies it; null: the consumer takes everything.
using SelectorRef = std::shared_ptr<const selector::Selector>;

// A message's headers as a selector sees them, without copies: the headers
// of its SEND, plus what the broker keeps in fields — `priority` (the
// effective 0-9, 4 when the SEND had none), `message-id`, `destination` and
// `persistent` ("true"/"false"). Valid while `m` is.
class MessageHeaders final : public selector::HeaderLookup {
 public:
  explicit MessageHeaders(const Message& m) : m_(m) {}
  std::optional<std::string_view> get(std::string_view name) const override;

 private:
  const Message& m_;
};

// Does `m` pass `s`? (A null selector passes everything.)
inline bool selects(const SelectorRef& s, const Message& m) {
  return s == nullptr || s->matches(MessageHeaders(m));
}

}  // namespace ferry::broker
