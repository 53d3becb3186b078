#pragma once

#include <compare>
#include <cstdint>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/binding_id.h"
#include "broker/delivery.h"
#include "common/result.h"
#include "broker/topic_trie.h"
#include "common/string_hash.h"

// One exchange of RabbitMQ's routing model: a named router in a vhost that
// holds bindings (to queues or to other exchanges) and, given a routing key
// and a message's headers, says which bindings a message goes through.
// Following exchange-to-exchange bindings, finding queues and keeping each
// queue once are the routing table's work (routing_table.h), not this one's.
//
// Owned by its routing table, on one shard; not thread-safe. The running
// broker reaches it through broker/exchanges.h (docs/architecture.md,
// "Routing core").
namespace ferry::broker {

enum class ExchangeType { kDirect, kFanout, kTopic, kHeaders };

std::string_view exchange_type_name(ExchangeType type);  // "direct", ...
// The type a client names ("direct", "fanout", "topic", "headers"), or
// failure "unknown exchange type 'x'".
Status parse_exchange_type(std::string_view name, ExchangeType& type);

// Exchange and binding arguments: RabbitMQ's `x-` names with string values
// (STOMP headers carry strings; numbers are written in decimal). Ordered, so
// that two argument sets compare and print the same way every time.
using Arguments = std::map<std::string, std::string, std::less<>>;

// Where a binding leads: a queue, or another exchange of the same vhost.
struct BindingDestination {
  enum class Kind { kQueue, kExchange };
  Kind kind = Kind::kQueue;
  std::string name;
  static BindingDestination queue(std::string name) { return {Kind::kQueue, std::move(name)}; }
  static BindingDestination exchange(std::string name) { return {Kind::kExchange, std::move(name)}; }
  friend auto operator<=>(const BindingDestination&, const BindingDestination&) = default;
  friend bool operator==(const BindingDestination&, const BindingDestination&) = default;
};

class Exchange;

// The routing table's record of a queue that bindings lead to, at a stable
// address until the queue is removed (and its bindings with it). `name`
// views the table's copy of the queue's name.
struct QueueSlot {
  std::string_view name;
  std::uint64_t route_epoch = 0;  // the table's per-message mark
};

// A binding is identified, as in RabbitMQ, by (source, destination, key,
// arguments): binding the same four twice is one binding.
struct Binding {
  BindingId id;
  BindingDestination destination;
  std::string key;
  Arguments arguments;
  // The destination resolved by whoever made the binding (the routing
  // table), so that routing follows a pointer instead of looking a name up:
  // `queue` for a queue, `exchange` for an exchange, or neither.
  QueueSlot* queue = nullptr;
  Exchange* exchange = nullptr;
};

// A message's headers as the headers exchange reads them; the caller adapts
// whatever holds them (a STOMP frame, a stored message) without copying.
class HeaderLookup {
 public:
  virtual ~HeaderLookup() = default;
  // The value of header `name`, or nullopt when the message has none. The
  // view stays valid for the duration of the route() call.
  virtual std::optional<std::string_view> find(std::string_view name) const = 0;
};

// A message without headers.
class NoHeaders final : public HeaderLookup {
 public:
  std::optional<std::string_view> find(std::string_view) const override { return std::nullopt; }
};

// What an exchange was declared with. Two declarations are equivalent when
// all of these are equal (RabbitMQ's rule; see RoutingTable::declare).
struct ExchangeProperties {
  ExchangeType type = ExchangeType::kDirect;
  bool durable = false;
  bool auto_delete = false;
  bool internal = false;  // no direct publishing; only reached through other exchanges
  Arguments arguments;
};

class Exchange {
 public:
  Exchange(std::string name, ExchangeProperties properties);
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  const std::string& name() const { return name_; }
  ExchangeType type() const { return properties_.type; }
  const ExchangeProperties& properties() const { return properties_; }

  // Why a binding with this key and these arguments cannot be made on this
  // exchange (a topic pattern past TopicTrie's bounds, a headers binding
  // whose x-match is not all/any/all-with-x/any-with-x), or success.
  Status check_binding(std::string_view key, const Arguments& arguments) const;

  // The binding with these four parts, or null.
  const Binding* find(const BindingDestination& destination, std::string_view key,
                      const Arguments& arguments) const;

  // Adds a binding that check_binding() accepted and find() did not find,
  // under an id unused in this exchange, with its resolved destination
  // (Binding::queue / Binding::exchange; they must outlive the binding).
  // Returns it (valid until it is removed or the exchange is destroyed).
  const Binding& add(BindingId id, BindingDestination destination, std::string key, Arguments arguments,
                     QueueSlot* queue = nullptr, Exchange* exchange = nullptr);

  // Removes a binding; false when there is none with these parts.
  bool remove(const BindingDestination& destination, std::string_view key, const Arguments& arguments);

  // Removes every binding to `destination` (a queue or exchange being
  // deleted); returns how many.
  std::size_t remove_all_to(const BindingDestination& destination);

  // Appends to `out` the bindings that a message with this routing key and
  // these headers goes through, each once. The pointers stay valid until the
  // next add() or remove(). Not const: the topic trie stamps its nodes.
  void route(std::string_view routing_key, const HeaderLookup& headers, std::vector<const Binding*>& out);

  std::size_t binding_count() const { return bindings_.size(); }
  // Every binding, in no particular order (listing, deletion).
  std::vector<const Binding*> bindings() const;

  // Routing table's marks, so that route() follows each exchange once per
  // message (cycles) without a set per message.
  std::uint64_t route_epoch = 0;

 private:
  struct Key {
    BindingDestination destination;
    std::string key;
    Arguments arguments;
    friend auto operator<=>(const Key&, const Key&) = default;
    friend bool operator==(const Key&, const Key&) = default;
  };
  // A headers binding, read once at bind time.
  struct HeadersMatch {
    BindingId id;
    bool any = false;         // x-match any / any-with-x (else all / all-with-x)
    bool with_x = false;      // *-with-x: `x-` arguments take part too
    std::vector<std::pair<std::string, std::string>> wanted;  // the arguments that take part
  };
  static bool headers_match(const HeadersMatch& m, const HeaderLookup& headers);

  std::string name_;
  ExchangeProperties properties_;
  std::unordered_map<BindingId, Binding> bindings_;
  std::map<Key, BindingId> by_key_;
  // Per type: direct keys; topic patterns; headers matchers. A fanout
  // exchange walks bindings_.
  std::unordered_map<std::string, std::vector<BindingId>, StringHash, std::equal_to<>> direct_;
  TopicTrie topic_;
  std::vector<HeadersMatch> headers_;
  std::vector<BindingId> scratch_;
};

}  // namespace ferry::broker
