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
// ActiveMQ's `/temp-topic/NAME` is kept the same way, in an instance of its
// own: NAME's topic has a generated name (broker::is_temporary_topic), its
// reply address is `/remote-temp-topic/amq.gen-...`, and it ends with the
// connection's subscriptions.
// A new temporary queue name: RabbitMQ's `amq.gen-` and 128 random bits.
std::string generate_temporary_queue_name();

class TempQueues {
 public:
  // `form`: the destination prefix its errors name ("/temp-queue/").
  TempQueues(std::size_t max, std::string_view form) : max_(max), form_(form) {}

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
  std::string_view form_;  // static text
  std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> by_name_;
};

}  // namespace ferry::session
