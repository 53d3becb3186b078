#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/policy.h"
#include "broker/delivery.h"
#include "common/result.h"
#include "broker/exchange.h"
#include "common/string_hash.h"

// The exchanges, queues and bindings of one vhost, and routing through them:
// RabbitMQ's AMQP 0-9-1 model.
//
// - Predeclared, durable, never deleted: the default exchange "" (direct; a
//   message routed through it with key K reaches queue K if it exists — an
//   implicit binding of every queue that cannot be bound or unbound), and
//   amq.direct, amq.fanout, amq.topic, amq.headers. Other names starting
//   with "amq." are reserved.
// - declare() of an existing exchange must be equivalent (same type, durable,
//   auto-delete, internal, arguments); otherwise it fails naming the first
//   difference, in RabbitMQ's words: "inequivalent arg 'type' for exchange
//   'x' in vhost '/': received 'fanout' but current is 'topic'". Nothing
//   changes.
// - An auto-delete exchange is deleted when its last binding (as a source)
//   goes, whether unbound or removed with its queue or destination exchange
//   (one that never had a binding stays, as in RabbitMQ).
// - route() follows exchange-to-exchange bindings and alternate exchanges
//   (argument `alternate-exchange`, used by an exchange none of whose
//   bindings matched); each exchange is visited at most once per message, so
//   cycles end, and each queue is reported once however many paths reach it.
// - Bounds: max_exchanges (exchanges declared beyond the predeclared five)
//   and max_bindings (explicit bindings; the default exchange's implicit ones
//   do not count), both per vhost; names of at most kMaxNameBytes bytes;
//   binding keys of at most kMaxKeyBytes (topic patterns: TopicTrie's bounds).
//
// Expected failures (unknown exchange or queue, inequivalent redeclare,
// limit reached, reserved name) are Status::failure with the text an ERROR
// frame carries; nothing changes when an operation fails.
//
// Owned by one shard; not thread-safe. Wiring (broker/exchanges.h;
// docs/architecture.md, "Routing core"): one table per vhost, a replica on
// every shard so that a publish is routed on the publisher's shard; changes
// are applied to every replica in the same order.
namespace ferry::broker {

class RoutingTable {
 public:
  static constexpr std::size_t kMaxNameBytes = 255;     // an AMQP short string
  static constexpr std::size_t kMaxKeyBytes = 65'535;

  RoutingTable(std::string vhost, std::size_t max_exchanges, std::size_t max_bindings);
  ~RoutingTable();
  RoutingTable(const RoutingTable&) = delete;
  RoutingTable& operator=(const RoutingTable&) = delete;

  const std::string& vhost() const { return vhost_; }

  // Creates the exchange, or checks that an existing one is equivalent.
  Status declare(std::string_view name, const ExchangeProperties& properties);
  // Deletes the exchange with its bindings, from it and to it; deleting an
  // exchange that does not exist succeeds (RabbitMQ 3.x+). With `if_unused`,
  // fails while it is the source of a binding. The predeclared ones are
  // refused.
  Status delete_exchange(std::string_view name, bool if_unused = false);
  const Exchange* find(std::string_view name) const;
  // Exchanges declared in this vhost, the predeclared five included.
  std::size_t exchange_count() const { return exchanges_.size(); }
  // Every exchange (the predeclared five included), sorted by name; valid
  // until the next change (listing).
  std::vector<const Exchange*> exchanges() const;

  // The queues of this vhost that bindings may lead to; the broker tells the
  // table as queues come and go. Removing a queue removes its bindings (and
  // auto-delete exchanges left without any). Idempotent.
  void add_queue(std::string_view name);
  void remove_queue(std::string_view name);
  bool has_queue(std::string_view name) const { return queues_.find(name) != queues_.end(); }

  // Binds `destination` to exchange `source` with a key and arguments. A
  // binding that already exists is a success that changes nothing.
  Status bind(std::string_view source, const BindingDestination& destination, std::string_view key,
               const Arguments& arguments = {});
  // Removes the binding; one that does not exist is a success (the exchange
  // and destination must exist).
  Status unbind(std::string_view source, const BindingDestination& destination, std::string_view key,
                 const Arguments& arguments = {});
  std::size_t binding_count() const { return binding_count_; }

  // Replaces `queues` with the queues a message published to `exchange` with
  // this routing key and these headers goes to, each once, in no particular
  // order. Fails when the exchange does not exist or is internal. The views
  // stay valid until the queue is removed. Not const (marks, scratch); no
  // allocation once the scratch space has grown.
  Status route(std::string_view exchange, std::string_view routing_key, const HeaderLookup& headers,
                std::vector<std::string_view>& queues);
  // The policies (policy.h) whose alternate-exchange an exchange without
  // its own `alternate-exchange` argument follows (null: none). Matched
  // only for a message an exchange could not route.
  void set_policies(std::shared_ptr<const PolicySet> policies) { policies_ = std::move(policies); }

 private:
  using Exchanges = std::unordered_map<std::string, std::unique_ptr<Exchange>, StringHash, std::equal_to<>>;
  // Node-based: a QueueSlot, and the name it views, stay put on rehash.
  using Queues = std::unordered_map<std::string, QueueSlot, StringHash, std::equal_to<>>;

  Exchange* lookup(std::string_view name);
  std::string describe(std::string_view exchange) const;  // "exchange 'x' in vhost '/'"
  static bool predeclared(std::string_view name);
  // Checks a source exchange and a destination for bind/unbind.
  Status check_ends(std::string_view source, const BindingDestination& destination, Exchange*& x);
  // Removes every binding to `destination` from every exchange; adds to
  // `emptied` the exchanges it left without bindings.
  void remove_bindings_to(const BindingDestination& destination, std::vector<std::string>& emptied);
  // Deletes the auto-delete exchanges among `emptied` (exchanges that just
  // lost their last binding), and those that this empties in turn. An
  // auto-delete exchange that never had a binding stays, as in RabbitMQ.
  void collect_auto_deleted(std::vector<std::string> emptied);
  void erase_exchange(Exchanges::iterator it, std::vector<std::string>& emptied);

  std::string vhost_;
  std::shared_ptr<const PolicySet> policies_;
  std::size_t max_exchanges_;
  std::size_t max_bindings_;
  Exchanges exchanges_;
  Queues queues_;
  std::size_t binding_count_ = 0;
  std::uint64_t next_binding_ = 1;
  // route() state, kept so that routing allocates nothing.
  std::uint64_t epoch_ = 0;
  std::vector<Exchange*> work_;
  std::vector<const Binding*> matched_;
};

}  // namespace ferry::broker
