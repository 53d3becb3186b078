#include "broker/exchanges.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <tuple>

#include <fmt/format.h>

namespace ferry::broker {

std::string binding_properties_key(std::string_view key, const Arguments& arguments) {
  if (arguments.empty()) return key.empty() ? std::string("~") : std::string(key);
  // FNV-1a over the sorted arguments: stable across runs and shards (RabbitMQ
  // hashes the Erlang term; clients take the value from a listing, never
  // compute it).
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](std::string_view s) {
    for (char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  for (const auto& [k, v] : arguments) {
    mix(k);
    mix(v);
  }
  return fmt::format("{}~{:016x}", key, h);
}

namespace {
std::size_t unbounded(std::size_t n) { return n == 0 ? std::numeric_limits<std::size_t>::max() : n; }
}  // namespace

ExchangeReplica::ExchangeReplica(std::size_t max_exchanges, std::size_t max_bindings)
    : max_exchanges_(unbounded(max_exchanges)), max_bindings_(unbounded(max_bindings)) {}

RoutingTable* ExchangeReplica::find(std::string_view vhost) {
  auto it = tables_.find(vhost);
  return it == tables_.end() ? nullptr : it->second.get();
}

const RoutingTable* ExchangeReplica::find(std::string_view vhost) const {
  auto it = tables_.find(vhost);
  return it == tables_.end() ? nullptr : it->second.get();
}

RoutingTable& ExchangeReplica::table(std::string_view vhost) {
  auto it = tables_.find(vhost);
  if (it == tables_.end()) {
    it = tables_.emplace(std::string(vhost), std::make_unique<RoutingTable>(std::string(vhost), max_exchanges_,
                                                                            max_bindings_)).first;
    it->second->set_policies(policies_);
  }
  return *it->second;
}

void ExchangeReplica::set_policies(std::shared_ptr<const PolicySet> policies) {
  policies_ = std::move(policies);
  for (auto& [vhost, t] : tables_) t->set_policies(policies_);
}

bool ExchangeReplica::has_bindings(std::string_view vhost, std::string_view exchange) const {
  const RoutingTable* t = find(vhost);
  if (t == nullptr) return false;
  const Exchange* x = t->find(exchange);
  return x != nullptr && x->binding_count() > 0;
}

Status ExchangeReplica::apply(const ExchangeChange& c) {
  using Kind = ExchangeChange::Kind;
  switch (c.kind) {
    case Kind::kDeclare:
      return table(c.vhost).declare(c.exchange, c.properties);
    case Kind::kDelete:
      return table(c.vhost).delete_exchange(c.exchange, c.if_unused);
    case Kind::kBind: {
      RoutingTable& t = table(c.vhost);
      // The caller checked that a queue destination exists (the broker's
      // queues are on their own shards; the table learns of a queue when it
      // is first bound, and forgets it when it is deleted).
      const bool known = c.destination.kind != BindingDestination::Kind::kQueue || t.has_queue(c.destination.name);
      if (!known) t.add_queue(c.destination.name);
      Status s = t.bind(c.exchange, c.destination, c.key, c.arguments);
      if (!s && !known) t.remove_queue(c.destination.name);
      return s;
    }
    case Kind::kUnbind: {
      RoutingTable& t = table(c.vhost);
      // A queue the table never heard of has no bindings: nothing to do.
      if (c.destination.kind == BindingDestination::Kind::kQueue && !t.has_queue(c.destination.name)) {
        if (t.find(c.exchange) == nullptr) return failure(fmt::format("no exchange '{}' in vhost '{}'", c.exchange, c.vhost));
        return {};
      }
      return t.unbind(c.exchange, c.destination, c.key, c.arguments);
    }
    case Kind::kRemoveQueue:
      if (RoutingTable* t = find(c.vhost)) t->remove_queue(c.destination.name);
      return {};
  }
  return {};
}

std::vector<std::string> ExchangeReplica::vhosts() const {
  std::vector<std::string> out;
  for (const auto& [vhost, t] : tables_) out.push_back(vhost);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<BindingInfo> ExchangeReplica::bindings(std::string_view vhost) const {
  std::vector<BindingInfo> out;
  const RoutingTable* t = find(vhost);
  if (t == nullptr) return out;
  for (const Exchange* x : t->exchanges())
    for (const Binding* b : x->bindings())
      out.push_back(BindingInfo{std::string(vhost), x->name(), b->destination, b->key, b->arguments});
  std::sort(out.begin(), out.end(), [](const BindingInfo& a, const BindingInfo& b) {
    return std::tie(a.source, a.destination, a.key, a.arguments) < std::tie(b.source, b.destination, b.key, b.arguments);
  });
  return out;
}

}  // namespace ferry::broker
