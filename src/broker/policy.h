#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "broker/queue_arguments.h"
#include "common/result.h"

namespace re2 {
class RE2;
}

// RabbitMQ's policies (docs/management.md, "Policies"): per vhost, a named
// regular expression over queue names with a definition of queue arguments
// (max-length, max-length-bytes, overflow, message-ttl, expires,
// dead-letter-exchange, dead-letter-routing-key, delivery-limit: the x-
// arguments without their prefix), a priority and apply-to (queues,
// exchanges, all). A queue takes the one matching policy of highest
// priority (ties: the name first in byte order), on creation and whenever
// the policies change.
//
// Precedence, as RabbitMQ's classic queues decide it
// (rabbit_queue_type_util:args_policy_lookup): for max-length,
// max-length-bytes, message-ttl, expires and delivery-limit the lower of
// the queue's argument and the policy's value applies; for overflow,
// dead-letter-exchange and dead-letter-routing-key the queue's own
// argument wins. A queue's declared arguments never change: redeclaring it
// is compared against them, not against the policy's.
//
// Patterns are RE2 syntax, matched in time linear in the name as the
// permission patterns are (auth/permissions.h: a backtracking engine let
// one pattern hold a shard for minutes): a queue is matched against the
// policies on the event loop of its shard. What RE2 refuses is refused
// when the policy is set; the compiled program's memory is bounded.
namespace ferry::broker {

enum class ApplyTo : std::uint8_t { kQueues, kExchanges, kAll };

struct Policy {
  static constexpr std::size_t kMaxPattern = 1024;  // bytes of pattern text
  static constexpr std::size_t kMaxName = 255;

  std::string vhost, name, pattern;
  ApplyTo apply_to = ApplyTo::kAll;
  std::int64_t priority = 0;
  QueueArguments definition;  // only the keys above (never x-max-priority, x-queue-type...)
  // alternate-exchange, for exchanges: where what an exchange cannot route
  // goes (its own `alternate-exchange` argument wins).
  std::optional<std::string> alternate_exchange;

  // RabbitMQ's body of PUT /api/policies/VHOST/NAME: {"pattern", "definition",
  // "priority" (default 0), "apply-to" (default "all")}. The Error names what
  // is wrong (an unknown definition key, a pattern RE2 refuses, ...).
  static Result<Policy> from_json(const std::string& vhost, const std::string& name, const nlohmann::json& body);
  // RabbitMQ's shape: {"vhost", "name", "pattern", "apply-to", "definition", "priority"}.
  nlohmann::json to_json() const;
  // The definition as RabbitMQ writes it (keys without "x-").
  nlohmann::json definition_json() const;
  bool applies_to_queues() const { return apply_to != ApplyTo::kExchanges; }
  bool applies_to_exchanges() const { return apply_to != ApplyTo::kQueues; }
  friend bool operator==(const Policy& a, const Policy& b) {
    return a.vhost == b.vhost && a.name == b.name && a.pattern == b.pattern && a.apply_to == b.apply_to &&
           a.priority == b.priority && a.definition == b.definition && a.alternate_exchange == b.alternate_exchange;
  }
};

// The arguments a queue declared with `declared` applies under a policy
// with `definition` (the precedence above).
QueueArguments effective_arguments(const QueueArguments& declared, const QueueArguments& definition);

// Every policy of every vhost, compiled. Immutable once built: shared by
// the shards (RE2 matching is thread-safe on a const object).
class PolicySet {
 public:
  // Policies that do not compile are left out (from_json refused them
  // before they were stored; a hand-edited file is logged by the caller).
  explicit PolicySet(std::vector<Policy> policies);
  ~PolicySet();
  PolicySet(const PolicySet&) = delete;
  PolicySet& operator=(const PolicySet&) = delete;

  // The policy queue `name` of `vhost` takes, or null. Linear in the
  // number of policies of that vhost (bounded by max-policies), each
  // match linear in the name.
  const Policy* for_queue(std::string_view vhost, std::string_view name) const;
  // The same for exchange `name` (apply-to exchanges or all).
  const Policy* for_exchange(std::string_view vhost, std::string_view name) const;
  bool empty() const { return compiled_.empty(); }

 private:
  struct Compiled {
    Policy policy;
    std::unique_ptr<const re2::RE2> re;
  };
  const Policy* first_match(std::string_view vhost, std::string_view name, bool exchanges) const;
  std::vector<Compiled> compiled_;  // by vhost, then priority (highest first), then name
};

// Compiles a pattern as the policies use it; an Error names the pattern.
Status check_policy_pattern(const std::string& pattern);

}  // namespace ferry::broker
