#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/strong_id.h"

namespace ferry::broker {

// A published message. Immutable once built and shared by reference count
// among every queue and subscription that holds it (possibly on several
// shards), so it is read-only after construction.
struct Message {
  MessageId id;
  std::string id_text;      // the `message-id` header value
  std::string destination;  // as delivered: "/queue/x", "/topic/y"
  // Headers from the SEND that travel with the message, unescaped, in order,
  // first occurrence only. Excludes destination, receipt, transaction,
  // content-length and message-id.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::uint8_t priority = 4;   // 0..9, higher first
  std::int64_t expires_ms = 0; // wall-clock ms since epoch; 0 = never
  bool persistent = false;
  // For fan-out: destination, message-id and `headers` already encoded as
  // STOMP 1.2 header lines, so that each subscriber's MESSAGE frame copies
  // them instead of escaping them again. Empty when not prepared (the
  // frame is then encoded from the fields above).
  std::string encoded_headers_1_2;

  // Bytes this message costs in memory, for the memory limit.
  std::size_t footprint() const;
  bool expired_at(std::int64_t now_ms) const { return expires_ms != 0 && now_ms >= expires_ms; }
  const std::string* header(std::string_view name) const;
};

using MessageRef = std::shared_ptr<const Message>;

}  // namespace ferry::broker
