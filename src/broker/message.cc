#include "broker/message.h"

namespace ferry::broker {

std::size_t Message::footprint() const {
  // A fixed charge covers the control block, vectors and queue entries.
  std::size_t n = sizeof(Message) + 64 + id_text.size() + destination.size() + body.size() +
                  encoded_headers_1_2.size();
  for (const auto& [k, v] : headers) n += k.size() + v.size() + 2 * sizeof(std::string);
  return n;
}

const std::string* Message::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

}  // namespace ferry::broker
