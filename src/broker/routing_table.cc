#include "broker/routing_table.h"

#include <algorithm>

#include <array>
#include <utility>

#include "common/assert.h"

namespace ferry::broker {

namespace {

struct Predeclared {
  std::string_view name;
  ExchangeType type;
};
constexpr std::array<Predeclared, 5> kPredeclared{{
    {"", ExchangeType::kDirect},
    {"amq.direct", ExchangeType::kDirect},
    {"amq.fanout", ExchangeType::kFanout},
    {"amq.topic", ExchangeType::kTopic},
    {"amq.headers", ExchangeType::kHeaders},
}};

std::string_view yes_no(bool b) { return b ? "true" : "false"; }

std::string quoted_or_none(const Arguments& a, const std::string& name) {
  const auto it = a.find(name);
  return it == a.end() ? std::string("none") : "'" + it->second + "'";
}

}  // namespace

RoutingTable::RoutingTable(std::string vhost, std::size_t max_exchanges, std::size_t max_bindings)
    : vhost_(std::move(vhost)), max_exchanges_(max_exchanges), max_bindings_(max_bindings) {
  for (const Predeclared& p : kPredeclared) {
    ExchangeProperties props;
    props.type = p.type;
    props.durable = true;
    exchanges_.emplace(std::string(p.name), std::make_unique<Exchange>(std::string(p.name), std::move(props)));
  }
}

RoutingTable::~RoutingTable() = default;

bool RoutingTable::predeclared(std::string_view name) {
  for (const Predeclared& p : kPredeclared) {
    if (p.name == name) return true;
  }
  return false;
}

std::string RoutingTable::describe(std::string_view exchange) const {
  return "exchange '" + std::string(exchange) + "' in vhost '" + vhost_ + "'";
}

Exchange* RoutingTable::lookup(std::string_view name) {
  const auto it = exchanges_.find(name);
  return it == exchanges_.end() ? nullptr : it->second.get();
}

const Exchange* RoutingTable::find(std::string_view name) const {
  const auto it = exchanges_.find(name);
  return it == exchanges_.end() ? nullptr : it->second.get();
}

std::vector<const Exchange*> RoutingTable::exchanges() const {
  std::vector<const Exchange*> out;
  out.reserve(exchanges_.size());
  for (const auto& [name, x] : exchanges_) out.push_back(x.get());
  std::sort(out.begin(), out.end(), [](const Exchange* a, const Exchange* b) { return a->name() < b->name(); });
  return out;
}

Status RoutingTable::declare(std::string_view name, const ExchangeProperties& properties) {
  if (name.empty()) return failure("operation not permitted on the default exchange");
  if (name.size() > kMaxNameBytes) {
    return failure("exchange name of " + std::to_string(name.size()) + " bytes; at most " +
                            std::to_string(kMaxNameBytes) + " are allowed");
  }
  if (const Exchange* x = lookup(name)) {
    // RabbitMQ's assert_equivalence, in its order: type, durable,
    // auto_delete, internal, then arguments.
    const ExchangeProperties& current = x->properties();
    const auto differs = [&](std::string_view arg, std::string_view received, std::string_view now) {
      return failure("inequivalent arg '" + std::string(arg) + "' for " + describe(name) + ": received '" +
                              std::string(received) + "' but current is '" + std::string(now) + "'");
    };
    if (properties.type != current.type) {
      return differs("type", exchange_type_name(properties.type), exchange_type_name(current.type));
    }
    if (properties.durable != current.durable) {
      return differs("durable", yes_no(properties.durable), yes_no(current.durable));
    }
    if (properties.auto_delete != current.auto_delete) {
      return differs("auto_delete", yes_no(properties.auto_delete), yes_no(current.auto_delete));
    }
    if (properties.internal != current.internal) {
      return differs("internal", yes_no(properties.internal), yes_no(current.internal));
    }
    // Every argument counts (RabbitMQ compares only alternate-exchange): a
    // redeclaration never changes an exchange silently.
    if (properties.arguments != current.arguments) {
      Arguments names = properties.arguments;
      names.insert(current.arguments.begin(), current.arguments.end());
      for (const auto& [arg, unused] : names) {
        const std::string received = quoted_or_none(properties.arguments, arg);
        const std::string now = quoted_or_none(current.arguments, arg);
        if (received != now) {
          return failure("inequivalent arg '" + arg + "' for " + describe(name) + ": received " + received +
                                  " but current is " + now);
        }
      }
    }
    return Status{};
  }
  if (name.starts_with("amq.")) {
    return failure("exchange name '" + std::string(name) + "' contains reserved prefix 'amq.*'");
  }
  if (exchanges_.size() - kPredeclared.size() >= max_exchanges_) {
    return failure("cannot declare " + describe(name) + ": vhost exchange limit (" +
                            std::to_string(max_exchanges_) + ") is reached");
  }
  exchanges_.emplace(std::string(name), std::make_unique<Exchange>(std::string(name), properties));
  return Status{};
}

Status RoutingTable::delete_exchange(std::string_view name, bool if_unused) {
  if (name.empty()) return failure("operation not permitted on the default exchange");
  if (predeclared(name)) return failure("deletion of system " + describe(name) + " not allowed");
  const auto it = exchanges_.find(name);
  if (it == exchanges_.end()) return Status{};
  if (if_unused && it->second->binding_count() > 0) return failure(describe(name) + " in use");
  std::vector<std::string> emptied;
  erase_exchange(it, emptied);
  collect_auto_deleted(std::move(emptied));
  return Status{};
}

void RoutingTable::erase_exchange(Exchanges::iterator it, std::vector<std::string>& emptied) {
  binding_count_ -= it->second->binding_count();
  const BindingDestination self = BindingDestination::exchange(it->first);
  exchanges_.erase(it);
  remove_bindings_to(self, emptied);
}

void RoutingTable::remove_bindings_to(const BindingDestination& destination, std::vector<std::string>& emptied) {
  // A walk over every exchange: deletions are rare (an operator's action, a
  // subscription's end) and exchanges per vhost are bounded.
  for (auto& [name, x] : exchanges_) {
    const std::size_t removed = x->remove_all_to(destination);
    binding_count_ -= removed;
    if (removed > 0 && x->binding_count() == 0) emptied.push_back(name);
  }
}

void RoutingTable::collect_auto_deleted(std::vector<std::string> emptied) {
  // Deleting one removes the bindings that lead to it, which may empty
  // another. Each exchange is deleted at most once, so this ends.
  while (!emptied.empty()) {
    const std::string name = std::move(emptied.back());
    emptied.pop_back();
    const auto it = exchanges_.find(name);
    if (it == exchanges_.end() || predeclared(name)) continue;
    const Exchange& x = *it->second;
    if (x.properties().auto_delete && x.binding_count() == 0) erase_exchange(it, emptied);
  }
}

void RoutingTable::add_queue(std::string_view name) {
  const auto [it, fresh] = queues_.try_emplace(std::string(name));
  if (fresh) it->second.name = it->first;
}

void RoutingTable::remove_queue(std::string_view name) {
  const auto it = queues_.find(name);
  if (it == queues_.end()) return;
  std::vector<std::string> emptied;
  remove_bindings_to(BindingDestination::queue(it->first), emptied);
  queues_.erase(it);
  collect_auto_deleted(std::move(emptied));
}

Status RoutingTable::check_ends(std::string_view source, const BindingDestination& destination, Exchange*& x) {
  if (source.empty() || (destination.kind == BindingDestination::Kind::kExchange && destination.name.empty())) {
    return failure("operation not permitted on the default exchange");
  }
  x = lookup(source);
  if (x == nullptr) return failure("no " + describe(source));
  if (destination.kind == BindingDestination::Kind::kQueue) {
    if (!has_queue(destination.name)) {
      return failure("no queue '" + destination.name + "' in vhost '" + vhost_ + "'");
    }
  } else if (lookup(destination.name) == nullptr) {
    return failure("no " + describe(destination.name));
  }
  return Status{};
}

Status RoutingTable::bind(std::string_view source, const BindingDestination& destination, std::string_view key,
                           const Arguments& arguments) {
  Exchange* x = nullptr;
  if (Status o = check_ends(source, destination, x); !o) return o;
  if (key.size() > kMaxKeyBytes) {
    return failure("binding key of " + std::to_string(key.size()) + " bytes; at most " +
                            std::to_string(kMaxKeyBytes) + " are allowed");
  }
  if (Status o = x->check_binding(key, arguments); !o) return o;
  if (x->find(destination, key, arguments) != nullptr) return Status{};
  if (binding_count_ >= max_bindings_) {
    return failure("cannot bind to " + describe(source) + ": vhost binding limit (" +
                            std::to_string(max_bindings_) + ") is reached");
  }
  QueueSlot* queue = nullptr;
  Exchange* to = nullptr;
  if (destination.kind == BindingDestination::Kind::kQueue) {
    queue = &queues_.find(destination.name)->second;  // check_ends() found it
  } else {
    to = lookup(destination.name);
  }
  x->add(BindingId{next_binding_++}, destination, std::string(key), arguments, queue, to);
  ++binding_count_;
  return Status{};
}

Status RoutingTable::unbind(std::string_view source, const BindingDestination& destination, std::string_view key,
                             const Arguments& arguments) {
  Exchange* x = nullptr;
  if (Status o = check_ends(source, destination, x); !o) return o;
  if (x->remove(destination, key, arguments)) {
    --binding_count_;
    if (x->binding_count() == 0) collect_auto_deleted({x->name()});
  }
  return Status{};
}

Status RoutingTable::route(std::string_view exchange, std::string_view routing_key, const HeaderLookup& headers,
                            std::vector<std::string_view>& queues) {
  queues.clear();
  Exchange* x = lookup(exchange);
  if (x == nullptr) return failure("no " + describe(exchange));
  if (x->properties().internal) return failure("cannot publish to internal " + describe(exchange));
  ++epoch_;
  if (exchange.empty()) {  // the default exchange: the key names the queue
    const auto q = queues_.find(routing_key);
    if (q != queues_.end()) queues.push_back(q->first);
    return Status{};
  }
  work_.clear();
  work_.push_back(x);
  x->route_epoch = epoch_;
  while (!work_.empty()) {
    Exchange* from = work_.back();
    work_.pop_back();
    matched_.clear();
    from->route(routing_key, headers, matched_);
    if (matched_.empty()) {
      // RabbitMQ's alternate exchange: where what this exchange could not
      // route goes (once per message too, so a chain of them ends).
      // Its own argument wins over a policy's (RabbitMQ).
      const std::string* name = nullptr;
      const auto ae = from->properties().arguments.find("alternate-exchange");
      if (ae != from->properties().arguments.end()) {
        name = &ae->second;
      } else if (policies_) {  // the default exchange never gets here (routed above)
        const Policy* p = policies_->for_exchange(vhost_, from->name());
        if (p != nullptr && p->alternate_exchange) name = &*p->alternate_exchange;
      }
      if (name != nullptr) {
        Exchange* alternate = lookup(*name);
        if (alternate != nullptr && !name->empty() && alternate->route_epoch != epoch_) {
          alternate->route_epoch = epoch_;
          work_.push_back(alternate);
        }
      }
      continue;
    }
    // The pointers were resolved at bind time; remove_queue() and
    // erase_exchange() remove the bindings before what they point to goes.
    for (const Binding* b : matched_) {
      if (QueueSlot* q = b->queue) {
        if (q->route_epoch == epoch_) continue;
        q->route_epoch = epoch_;
        queues.push_back(q->name);
      } else {
        Exchange* next = b->exchange;
        FERRY_ASSERT(next != nullptr);
        if (next->route_epoch == epoch_) continue;
        next->route_epoch = epoch_;
        work_.push_back(next);
      }
    }
  }
  return Status{};
}

}  // namespace ferry::broker
