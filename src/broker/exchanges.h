#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/exchange.h"
#include "broker/routing_table.h"
#include "common/result.h"
#include "common/string_hash.h"

// Exchanges and bindings as the running broker holds them: one RoutingTable
// per vhost, and a replica of all of them on every shard, so that a SEND to
// `/exchange/NAME/KEY` (or `/topic/KEY`, amq.topic) is routed on the
// publisher's shard without a cross-shard hop (docs/architecture.md,
// "Routing core").
//
// Every change (declare, delete, bind, unbind, a queue deleted) is an
// ExchangeChange, applied first on shard 0's replica (which decides whether
// it succeeds) and then, from shard 0, on every other replica: each shard
// receives shard 0's changes in shard 0's order, so the replicas agree.
// Broker::change_exchanges does the sequencing.
namespace ferry::broker {

struct ExchangeChange {
  enum class Kind { kDeclare, kDelete, kBind, kUnbind, kRemoveQueue };
  Kind kind = Kind::kDeclare;
  std::string vhost;
  std::string exchange;           // declare/delete: the exchange; bind/unbind: the source
  ExchangeProperties properties;  // declare
  bool if_unused = false;         // delete
  BindingDestination destination; // bind/unbind; kRemoveQueue: the queue (destination.name)
  std::string key;                // bind/unbind
  Arguments arguments;            // bind/unbind
};

// A binding as listed (management API, the persisted file).
struct BindingInfo {
  std::string vhost;
  std::string source;
  BindingDestination destination;
  std::string key;
  Arguments arguments;
};

// RabbitMQ's properties_key of a binding, which names it in the management
// API's DELETE path: the routing key ("~" when empty) when it has no
// arguments, else the key, "~" and a hash of the arguments.
std::string binding_properties_key(std::string_view key, const Arguments& arguments);

// A message's headers (a Message's header list) as the headers exchange reads them.
class SendHeaders final : public HeaderLookup {
 public:
  explicit SendHeaders(const std::vector<std::pair<std::string, std::string>>& headers) : headers_(headers) {}
  std::optional<std::string_view> find(std::string_view name) const override {
    for (const auto& [k, v] : headers_)
      if (k == name) return std::string_view(v);
    return std::nullopt;
  }

 private:
  const std::vector<std::pair<std::string, std::string>>& headers_;
};

// One shard's replica of every vhost's routing table. Touched only on its
// shard; a vhost's table is made (with the predeclared exchanges) on first use.
class ExchangeReplica {
 public:
  // 0: no limit.
  ExchangeReplica(std::size_t max_exchanges, std::size_t max_bindings);

  // Applies a change; a failure changed nothing (RoutingTable's rule).
  Status apply(const ExchangeChange& c);

  // The vhost's table, or null when nothing was ever declared or bound in
  // it (then only the predeclared exchanges exist, without bindings).
  RoutingTable* find(std::string_view vhost);
  const RoutingTable* find(std::string_view vhost) const;
  // The vhost's table, made on first use.
  RoutingTable& table(std::string_view vhost);
  // Policies for every table, now and made later.
  void set_policies(std::shared_ptr<const PolicySet> policies);
  // Whether a publish to `exchange` in `vhost` could reach a queue: false
  // when the vhost has no table or the exchange has no binding (the cheap
  // test a SEND to /topic/ makes before routing through amq.topic).
  bool has_bindings(std::string_view vhost, std::string_view exchange) const;

  // Every vhost that has a table.
  std::vector<std::string> vhosts() const;
  // The bindings of a vhost ("" source filter: all), sorted.
  std::vector<BindingInfo> bindings(std::string_view vhost) const;

 private:
  std::size_t max_exchanges_, max_bindings_;
  std::shared_ptr<const PolicySet> policies_;  // given to every table (RoutingTable::set_policies)
  std::unordered_map<std::string, std::unique_ptr<RoutingTable>, StringHash, std::equal_to<>> tables_;
};

}  // namespace ferry::broker
