#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/binding_id.h"
#include "broker/destination.h"
#include "broker/topic_trie.h"
#include "common/result.h"
#include "common/string_hash.h"

namespace ferry::broker {

// Wildcard topic subscriptions (`/topic/orders.*`, `/topic/orders.#`,
// `/topic/orders.>`), as one shard sees them: the patterns subscribed to in
// each vhost, in a TopicTrie, so that a SEND to `/topic/orders.eu` is routed
// on the publisher's shard to every wildcard topic it matches as well as to
// its own topic (Broker::publish). Every shard holds a replica; the
// wildcard topic's owner adds a pattern on each shard before the
// subscription is confirmed and removes it when the subscription goes
// (counted: several subscriptions share one pattern).
//
// A wildcard topic is an ordinary Topic named by its pattern, on the shard
// its name hashes to; its subscriptions are ordinary subscription queues.
// Words are separated by '.'; `*` is one word, `#` (RabbitMQ) and `>`
// (ActiveMQ, last word only) zero or more.
//
// Owned by one shard; every method runs there.
class TopicPatterns {
 public:
  // Whether a topic name is a pattern (a word is `*`, `#` or `>`).
  static bool is_pattern(std::string_view name);
  // Why `name` cannot be subscribed to as a pattern (`>` not last, too many
  // words), or success.
  static Status check(std::string_view name);

  // Counted: add() twice needs remove() twice. `topic` is a pattern that
  // check() accepted.
  void add(const Destination& topic);
  void remove(const Destination& topic);
  bool empty() const { return by_vhost_.empty(); }

  // The wildcard topics `topic` (not a pattern) matches, added to `out`.
  void match(const Destination& topic, std::vector<std::shared_ptr<const Destination>>& out);

 private:
  struct Pattern {
    std::shared_ptr<const Destination> topic;
    std::string trie_pattern;
    BindingId id;
    std::uint32_t count = 0;
  };
  struct Vhost {
    TopicTrie trie;
    std::unordered_map<std::string, Pattern, StringHash, std::equal_to<>> by_name;
    std::unordered_map<BindingId, Pattern*> by_id;
  };
  std::unordered_map<std::string, std::unique_ptr<Vhost>, StringHash, std::equal_to<>> by_vhost_;
  std::uint64_t next_id_ = 1;
  std::vector<BindingId> ids_;  // match()'s scratch
};

}  // namespace ferry::broker
