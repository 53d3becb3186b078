#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/destination.h"
#include "common/result.h"
#include "common/string_hash.h"

namespace ferry::session {

// A connection's temporary queues (RabbitMQ's and ActiveMQ's
// `/temp-queue/NAME`): each NAME of the connection is a private queue with
// a generated, unguessable name (`amq.gen-...`, broker::is_temporary_queue),
// so two connections using `/temp-queue/reply` never share one. Others
// reach it only through the rewritten `reply-to` (`/reply-queue/amq.gen-...`)
// and can only send to it; it is deleted when the connection closes.
// At most `max` per connection (max-subscriptions).
// A new temporary queue name: RabbitMQ's `amq.gen-` and 128 random bits.
std::string generate_temporary_queue_name();

class TempQueues {
 public:
  explicit TempQueues(std::size_t max) : max_(max) {}

  struct Entry {
    std::string queue;         // the generated queue name
    std::string subscription;  // the id subscribed to it ("" = none)
  };
  // NAME's queue, made on first use.
  Result<Entry*> resolve(std::string_view name);
  Entry* find_by_queue(std::string_view queue);
  // The generated queue names, for the close.
  std::vector<std::string> queues() const;

 private:
  std::size_t max_;
  std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> by_name_;
};

}  // namespace ferry::session
