#include "broker/policy.h"

#include <re2/re2.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <tuple>

namespace ferry::broker {

namespace {

// The definition keys a policy may set (RabbitMQ's names: the queue
// arguments without "x-"). Others (x-max-priority, x-queue-type, ...) only
// a declaration sets, as in RabbitMQ.
constexpr std::string_view kKeys[] = {"max-length", "max-length-bytes", "overflow", "message-ttl", "expires",
                                      "dead-letter-exchange", "dead-letter-routing-key", "delivery-limit",
                                      "alternate-exchange", "redelivery-delay", "redelivery-backoff-multiplier",
                                      "max-redelivery-delay"};

// A compiled program of at most this much memory: a pattern's cost is
// bounded when it is set, not discovered when a queue is matched.
constexpr std::int64_t kMaxProgramMemory = 1 << 20;

std::unique_ptr<const RE2> compile(const std::string& pattern) {
  RE2::Options options;
  // Bytes, as queue names are (a name that is not UTF-8 is still matched).
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);  // the error is returned, naming the pattern
  options.set_max_mem(kMaxProgramMemory);
  return std::make_unique<const RE2>(pattern, options);
}

std::string_view apply_to_name(ApplyTo a) {
  switch (a) {
    case ApplyTo::kQueues: return "queues";
    case ApplyTo::kExchanges: return "exchanges";
    case ApplyTo::kAll: return "all";
  }
  return "all";
}

template <typename T>
std::optional<T> lower(const std::optional<T>& a, const std::optional<T>& b) {
  if (a && b) return std::min(*a, *b);
  return a ? a : b;
}

}  // namespace

Status check_policy_pattern(const std::string& pattern) {
  if (pattern.size() > Policy::kMaxPattern)
    return failure("invalid policy pattern", "longer than " + std::to_string(Policy::kMaxPattern) + " bytes");
  auto re = compile(pattern);
  if (!re->ok())
    return failure("invalid policy pattern '" + pattern.substr(0, 128) + "': " + re->error() +
                   " (patterns are RE2 syntax, matched in linear time: no backreferences or lookaround)");
  return {};
}

Result<Policy> Policy::from_json(const std::string& vhost, const std::string& name, const nlohmann::json& body) {
  if (!body.is_object()) return failure("invalid policy", "expected a JSON object {\"pattern\", \"definition\", ...}");
  if (name.empty() || name.size() > kMaxName) return failure("invalid policy", "a name of 1 to 255 bytes");
  Policy p;
  p.vhost = vhost;
  p.name = name;
  if (!body.contains("pattern") || !body["pattern"].is_string())
    return failure("invalid policy", "\"pattern\" (a regular expression, a string) is required");
  p.pattern = body["pattern"].get<std::string>();
  if (Status s = check_policy_pattern(p.pattern); !s) return s.error();
  if (body.contains("priority")) {
    const auto& pr = body["priority"];
    if (pr.is_number_integer()) p.priority = pr.get<std::int64_t>();
    else if (pr.is_string()) {
      // rabbitmqadmin sends it as text.
      try {
        std::size_t used = 0;
        p.priority = std::stoll(pr.get<std::string>(), &used);
        if (used != pr.get<std::string>().size()) throw std::invalid_argument("trailing");
      } catch (const std::exception&) {
        return failure("invalid policy", "\"priority\" must be a whole number");
      }
    } else {
      return failure("invalid policy", "\"priority\" must be a whole number");
    }
  }
  if (body.contains("apply-to")) {
    const auto& a = body["apply-to"];
    const std::string text = a.is_string() ? a.get<std::string>() : std::string();
    if (text == "queues" || text == "classic_queues" || text == "quorum_queues") p.apply_to = ApplyTo::kQueues;
    else if (text == "exchanges") p.apply_to = ApplyTo::kExchanges;
    else if (text == "all") p.apply_to = ApplyTo::kAll;
    else return failure("invalid policy", "\"apply-to\" must be \"queues\", \"exchanges\" or \"all\"");
  }
  if (!body.contains("definition") || !body["definition"].is_object() || body["definition"].empty())
    return failure("invalid policy", "\"definition\" must be a JSON object with at least one key");
  nlohmann::json args = nlohmann::json::object();
  for (const auto& [key, value] : body["definition"].items()) {
    if (key == "alternate-exchange") {
      if (!value.is_string() || value.get<std::string>().empty() ||
          value.get<std::string>().size() > QueueArguments::kMaxName)
        return failure("invalid policy definition", "'alternate-exchange' must be an exchange name (1 to 255 bytes)");
      p.alternate_exchange = value.get<std::string>();
      continue;
    }
    if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys))
      return failure("invalid policy definition", "'" + key.substr(0, 64) +
                                                      "' is not a policy key Ferry knows (max-length, "
                                                      "max-length-bytes, overflow, message-ttl, expires, "
                                                      "dead-letter-exchange, dead-letter-routing-key, "
                                                      "delivery-limit, alternate-exchange, redelivery-delay, "
                                                      "redelivery-backoff-multiplier, max-redelivery-delay)");
    args["x-" + key] = value;
  }
  auto parsed = QueueArguments::from_json(args);
  if (!parsed) return parsed.error();
  p.definition = std::move(*parsed);
  if (p.definition.dead_letter_exchange || p.definition.dead_letter_routing_key) {
    // A routing key alone is fine in a policy (it completes a queue's own
    // x-dead-letter-exchange), but each part must be one a queue could be
    // declared with: a queue combines them with its own (effective_arguments)
    // and dead-letters through the result without checking again.
    QueueArguments probe;
    probe.dead_letter_exchange = p.definition.dead_letter_exchange.value_or(std::string());
    probe.dead_letter_routing_key = p.definition.dead_letter_routing_key;
    if (Status s = probe.validate(); !s) return s.error();
  }
  return p;
}

nlohmann::json Policy::definition_json() const {
  nlohmann::json out = nlohmann::json::object();
  const nlohmann::json arguments = definition.to_json();  // items() borrows it
  for (const auto& [key, value] : arguments.items()) out[key.substr(2)] = value;
  if (alternate_exchange) out["alternate-exchange"] = *alternate_exchange;
  return out;
}

nlohmann::json Policy::to_json() const {
  return {{"vhost", vhost},         {"name", name},
          {"pattern", pattern},     {"apply-to", std::string(apply_to_name(apply_to))},
          {"definition", definition_json()}, {"priority", priority}};
}

QueueArguments effective_arguments(const QueueArguments& declared, const QueueArguments& definition) {
  QueueArguments out = declared;
  out.max_length = lower(declared.max_length, definition.max_length);
  out.max_length_bytes = lower(declared.max_length_bytes, definition.max_length_bytes);
  out.message_ttl = lower(declared.message_ttl, definition.message_ttl);
  out.expires = lower(declared.expires, definition.expires);
  out.delivery_limit = lower(declared.delivery_limit, definition.delivery_limit);
  if (!out.overflow) out.overflow = definition.overflow;
  if (!out.dead_letter_exchange) out.dead_letter_exchange = definition.dead_letter_exchange;
  if (!out.dead_letter_routing_key) out.dead_letter_routing_key = definition.dead_letter_routing_key;
  // Ferry's redelivery policy (not RabbitMQ's): the queue's own wins, as
  // for overflow, each part on its own.
  if (!out.redelivery_delay) out.redelivery_delay = definition.redelivery_delay;
  if (!out.redelivery_backoff_multiplier) out.redelivery_backoff_multiplier = definition.redelivery_backoff_multiplier;
  if (!out.max_redelivery_delay) out.max_redelivery_delay = definition.max_redelivery_delay;
  return out;
}

PolicySet::PolicySet(std::vector<Policy> policies) {
  for (Policy& p : policies) {
    auto re = compile(p.pattern);
    if (!re->ok()) continue;
    compiled_.push_back(Compiled{std::move(p), std::move(re)});
  }
  std::sort(compiled_.begin(), compiled_.end(), [](const Compiled& a, const Compiled& b) {
    return std::make_tuple(std::cref(a.policy.vhost), -a.policy.priority, std::cref(a.policy.name)) <
           std::make_tuple(std::cref(b.policy.vhost), -b.policy.priority, std::cref(b.policy.name));
  });
}

PolicySet::~PolicySet() = default;

const Policy* PolicySet::for_queue(std::string_view vhost, std::string_view name) const {
  return first_match(vhost, name, false);
}

const Policy* PolicySet::for_exchange(std::string_view vhost, std::string_view name) const {
  return first_match(vhost, name, true);
}

const Policy* PolicySet::first_match(std::string_view vhost, std::string_view name, bool exchanges) const {
  auto it = std::lower_bound(compiled_.begin(), compiled_.end(), vhost,
                             [](const Compiled& c, std::string_view v) { return c.policy.vhost < v; });
  for (; it != compiled_.end() && it->policy.vhost == vhost; ++it) {
    if (exchanges ? !it->policy.applies_to_exchanges() : !it->policy.applies_to_queues()) continue;
    // Unanchored, as RabbitMQ's (write ^...$ to anchor).
    if (RE2::PartialMatch(re2::StringPiece(name.data(), name.size()), *it->re)) return &it->policy;
  }
  return nullptr;
}

}  // namespace ferry::broker
