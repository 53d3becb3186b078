#include "broker/exchange.h"

#include <algorithm>
#include <utility>

#include "common/assert.h"

namespace ferry::broker {

std::string_view exchange_type_name(ExchangeType type) {
  switch (type) {
    case ExchangeType::kDirect: return "direct";
    case ExchangeType::kFanout: return "fanout";
    case ExchangeType::kTopic: return "topic";
    case ExchangeType::kHeaders: return "headers";
  }
  return "?";
}

Status parse_exchange_type(std::string_view name, ExchangeType& type) {
  for (const ExchangeType t : {ExchangeType::kDirect, ExchangeType::kFanout, ExchangeType::kTopic,
                               ExchangeType::kHeaders}) {
    if (name == exchange_type_name(t)) {
      type = t;
      return Status{};
    }
  }
  return failure("unknown exchange type '" + std::string(name) + "'");
}

namespace {

bool starts_with_x(std::string_view name) { return name.size() >= 2 && name[0] == 'x' && name[1] == '-'; }

// RabbitMQ's x-match values (rabbit_exchange_type_headers:validate_binding).
// `any` and `with_x` are set on success.
Status parse_x_match(const Arguments& arguments, bool& any, bool& with_x) {
  const auto it = arguments.find("x-match");
  const std::string_view value = it == arguments.end() ? std::string_view("all") : std::string_view(it->second);
  if (value == "all" || value == "any" || value == "all-with-x" || value == "any-with-x") {
    any = value.starts_with("any");
    with_x = value.ends_with("-with-x");
    return Status{};
  }
  return failure("invalid x-match field value '" + std::string(value) +
                          "'; expected all, any, all-with-x, or any-with-x");
}

}  // namespace

Exchange::Exchange(std::string name, ExchangeProperties properties)
    : name_(std::move(name)), properties_(std::move(properties)) {}

Status Exchange::check_binding(std::string_view key, const Arguments& arguments) const {
  switch (properties_.type) {
    case ExchangeType::kTopic:
      return TopicTrie::check_pattern(key);
    case ExchangeType::kHeaders: {
      bool any = false, with_x = false;
      return parse_x_match(arguments, any, with_x);
    }
    case ExchangeType::kDirect:
    case ExchangeType::kFanout:
      return Status{};
  }
  return Status{};
}

const Binding* Exchange::find(const BindingDestination& destination, std::string_view key,
                              const Arguments& arguments) const {
  // The map's key owns its strings; a lookup builds one. Binding is rare
  // (a subscription, an operator's action), so the copy does not matter.
  const auto it = by_key_.find(Key{destination, std::string(key), arguments});
  if (it == by_key_.end()) return nullptr;
  return &bindings_.at(it->second);
}

const Binding& Exchange::add(BindingId id, BindingDestination destination, std::string key, Arguments arguments,
                             QueueSlot* queue, Exchange* exchange) {
  FERRY_ASSERT(check_binding(key, arguments).ok());
  const bool fresh = by_key_.emplace(Key{destination, key, arguments}, id).second;
  FERRY_ASSERT(fresh);
  switch (properties_.type) {
    case ExchangeType::kDirect:
      direct_[key].push_back(id);
      break;
    case ExchangeType::kTopic: {
      const bool added = topic_.add(key, id).ok();
      FERRY_ASSERT(added);
      break;
    }
    case ExchangeType::kHeaders: {
      HeadersMatch m{id, false, false, {}};
      const bool valid = parse_x_match(arguments, m.any, m.with_x).ok();
      FERRY_ASSERT(valid);
      for (const auto& [name, value] : arguments) {
        // x-match itself never takes part; other x- arguments only with *-with-x.
        if (name == "x-match" || (!m.with_x && starts_with_x(name))) continue;
        m.wanted.emplace_back(name, value);
      }
      headers_.push_back(std::move(m));
      break;
    }
    case ExchangeType::kFanout:
      break;
  }
  const auto [it, inserted] =
      bindings_.emplace(id, Binding{id, std::move(destination), std::move(key), std::move(arguments), queue, exchange});
  FERRY_ASSERT(inserted);
  return it->second;
}

bool Exchange::remove(const BindingDestination& destination, std::string_view key, const Arguments& arguments) {
  const auto k = by_key_.find(Key{destination, std::string(key), arguments});
  if (k == by_key_.end()) return false;
  const BindingId id = k->second;
  by_key_.erase(k);
  switch (properties_.type) {
    case ExchangeType::kDirect: {
      const auto d = direct_.find(key);
      FERRY_ASSERT(d != direct_.end());
      std::erase(d->second, id);
      if (d->second.empty()) direct_.erase(d);
      break;
    }
    case ExchangeType::kTopic: {
      const bool removed = topic_.remove(key, id);
      FERRY_ASSERT(removed);
      break;
    }
    case ExchangeType::kHeaders:
      std::erase_if(headers_, [id](const HeadersMatch& m) { return m.id == id; });
      break;
    case ExchangeType::kFanout:
      break;
  }
  bindings_.erase(id);
  return true;
}

std::size_t Exchange::remove_all_to(const BindingDestination& destination) {
  // by_key_ is ordered by destination first: its bindings are one range,
  // starting at the smallest key and arguments.
  std::vector<std::pair<std::string, Arguments>> doomed;
  for (auto it = by_key_.lower_bound(Key{destination, {}, {}});
       it != by_key_.end() && it->first.destination == destination; ++it) {
    doomed.emplace_back(it->first.key, it->first.arguments);
  }
  for (const auto& [key, arguments] : doomed) remove(destination, key, arguments);
  return doomed.size();
}

bool Exchange::headers_match(const HeadersMatch& m, const HeaderLookup& headers) {
  // RabbitMQ: `all` with nothing to compare matches every message, `any`
  // with nothing to compare matches none.
  if (m.any) {
    return std::any_of(m.wanted.begin(), m.wanted.end(), [&](const auto& w) {
      const auto v = headers.find(w.first);
      return v && *v == w.second;
    });
  }
  return std::all_of(m.wanted.begin(), m.wanted.end(), [&](const auto& w) {
    const auto v = headers.find(w.first);
    return v && *v == w.second;
  });
}

void Exchange::route(std::string_view routing_key, const HeaderLookup& headers, std::vector<const Binding*>& out) {
  switch (properties_.type) {
    case ExchangeType::kDirect: {
      const auto d = direct_.find(routing_key);
      if (d == direct_.end()) return;
      for (const BindingId id : d->second) out.push_back(&bindings_.at(id));
      return;
    }
    case ExchangeType::kFanout:
      for (const auto& [id, b] : bindings_) out.push_back(&b);
      return;
    case ExchangeType::kTopic:
      topic_.match(routing_key, scratch_);
      for (const BindingId id : scratch_) out.push_back(&bindings_.at(id));
      return;
    case ExchangeType::kHeaders:
      for (const HeadersMatch& m : headers_) {
        if (headers_match(m, headers)) out.push_back(&bindings_.at(m.id));
      }
      return;
  }
}

std::vector<const Binding*> Exchange::bindings() const {
  std::vector<const Binding*> all;
  all.reserve(bindings_.size());
  for (const auto& [id, b] : bindings_) all.push_back(&b);
  return all;
}

}  // namespace ferry::broker
