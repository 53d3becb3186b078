// GET /api/definitions[/{vhost}] and POST /api/definitions: RabbitMQ's
// definitions export and import (rabbitmqadmin export/import, a backup of
// the broker's topology, moving from RabbitMQ). docs/management.md lists
// what is exported and how an import merges.
#include <algorithm>
#include <tuple>

#include "auth/authenticator.h"
#include "auth/password_hash.h"
#include "broker/arguments_json.h"
#include "broker/declared_queues.h"
#include "broker/queue_arguments.h"
#include "broker/exchanges.h"
#include "broker/policy_store.h"
#include "broker/routing_table.h"
#include "common/version.h"
#include "http/api.h"
#include "http/json.h"
#include "http/user_edits.h"

namespace ferry::http {

namespace {

constexpr std::string_view kFerryAlgorithm = "ferry_pbkdf2_sha256";
constexpr std::size_t kMaxImportItems = 100'000;  // per list: bounds one import's work

// An item's "arguments" (absent or null: none); nullopt: not an object of
// strings, numbers or booleans.
std::optional<broker::Arguments> arguments_of(const Json& item) {
  return broker::arguments_from_json(item.contains("arguments") ? item["arguments"] : Json());
}

bool flag(const Json& item, const char* name, bool fallback) {
  auto it = item.find(name);
  if (it == item.end()) return fallback;
  if (it->is_boolean()) return it->get<bool>();
  return *it == "true";
}

// A stored hash as RabbitMQ's export writes one: the hash and its algorithm.
std::pair<std::string, std::string> exported_hash(const std::string& stored) {
  for (const auto& [prefix, algorithm] : {std::pair{"rabbitmq-sha256$", "rabbit_password_hashing_sha256"},
                                          std::pair{"rabbitmq-sha512$", "rabbit_password_hashing_sha512"}})
    if (stored.starts_with(prefix)) return {stored.substr(std::string_view(prefix).size()), algorithm};
  return {stored, std::string(kFerryAlgorithm)};
}

void export_definitions(ApiContext& ctx, std::optional<std::string> only_vhost, Reply reply) {
  auto users = snapshot(ctx);
  if (only_vhost && !users->has_vhost(*only_vhost))
    return reply(error_response(404, "not_found", "no vhost '" + *only_vhost + "'"));
  Json out{{"product_name", "Ferry"}, {"product_version", std::string(kVersion)}};
  Json vhosts = Json::array(), user_list = Json::array(), permissions = Json::array();
  if (!only_vhost) {
    for (const std::string& v : users->vhosts()) vhosts.push_back(Json{{"name", v}});
    for (const auto& [name, u] : users->users()) {
      auto [hash, algorithm] = exported_hash(u.password_hash);
      user_list.push_back(Json{{"name", name}, {"password_hash", hash}, {"hashing_algorithm", algorithm},
                               {"tags", u.tags}});
    }
    for (const auto& e : users->permission_entries())
      permissions.push_back(Json{{"user", e.user}, {"vhost", e.vhost}, {"configure", e.configure},
                                 {"write", e.write}, {"read", e.read}});
    out["users"] = user_list;
    out["vhosts"] = vhosts;
    out["permissions"] = permissions;
    out["topic_permissions"] = Json::array();
    out["parameters"] = Json::array();
    out["global_parameters"] = Json::array();
  }
  Json policies = Json::array();
  if (broker::PolicyStore* store = ctx.broker.policy_store())
    for (const auto& pol : store->all())
      if (!only_vhost || pol.vhost == *only_vhost) policies.push_back(pol.to_json());
  out["policies"] = std::move(policies);
  // Durable exchanges a user declared (not the predeclared amq.* and ""),
  // and the bindings between durable ends: what survives a restart.
  Json exchanges = Json::array(), bindings = Json::array();
  broker::ExchangeReplica& replica = ctx.broker.exchanges(ShardId(0));
  std::vector<std::string> vhost_names;
  if (only_vhost) vhost_names.push_back(*only_vhost);
  else vhost_names = replica.vhosts();
  for (const std::string& v : vhost_names) {
    const broker::RoutingTable* table = replica.find(v);
    if (table == nullptr) continue;
    for (const broker::Exchange* x : table->exchanges()) {
      const auto& p = x->properties();
      if (!p.durable || x->name().empty() || x->name().starts_with("amq.")) continue;
      Json e{{"name", x->name()}, {"type", broker::exchange_type_name(p.type)}, {"durable", true},
             {"auto_delete", p.auto_delete}, {"internal", p.internal}, {"arguments", broker::arguments_to_json(p.arguments)}};
      if (!only_vhost) e["vhost"] = v;
      exchanges.push_back(std::move(e));
    }
    for (const broker::BindingInfo& b : replica.bindings(v)) {
      if (b.destination.name.starts_with(broker::kTemporaryQueuePrefix)) continue;
      Json j{{"source", b.source}, {"destination", b.destination.name},
             {"destination_type", b.destination.kind == broker::BindingDestination::Kind::kQueue ? "queue" : "exchange"},
             {"routing_key", b.key}, {"arguments", broker::arguments_to_json(b.arguments)}};
      if (!only_vhost) j["vhost"] = v;
      bindings.push_back(std::move(j));
    }
  }
  out["exchanges"] = std::move(exchanges);
  out["bindings"] = std::move(bindings);
  // The queues that persist: durable ones (journaled), temporary ones not.
  using Queues = std::vector<broker::QueueStats>;
  gather<Queues>(
      ctx, [&ctx, only_vhost](ShardId s) { return ctx.broker.local(s).queue_stats(only_vhost.value_or("")); },
      [reply, out = std::move(out), only_vhost](std::vector<Queues> parts) mutable {
        std::vector<const broker::QueueStats*> durable;
        for (const auto& p : parts)
          for (const auto& q : p)
            if (q.durable) durable.push_back(&q);
        std::sort(durable.begin(), durable.end(), [](const auto* a, const auto* b) {
          return std::tie(a->destination.vhost, a->destination.name) < std::tie(b->destination.vhost, b->destination.name);
        });
        Json queues = Json::array();
        for (const broker::QueueStats* s : durable) {
          Json q{{"name", s->destination.name}, {"durable", true}, {"auto_delete", false},
                 {"arguments", s->arguments.to_json()}};
          if (!only_vhost) q["vhost"] = s->destination.vhost;
          queues.push_back(std::move(q));
        }
        out["queues"] = std::move(queues);
        reply(json_ok(out));
      });
}

// What an import brings, read and checked before anything changes.
struct Import {
  std::vector<std::string> vhosts;
  struct UserDef {
    std::string name, hash;
    std::vector<std::string> tags;
  };
  std::vector<UserDef> users;
  std::vector<auth::PermissionEntry> permissions;
  std::vector<std::pair<broker::Destination, broker::QueueArguments>> queues;
  std::vector<broker::ExchangeChange> exchanges;  // declares, then binds, in order
  std::vector<broker::Policy> policies;
};

// An array member of `body` (absent: empty), bounded.
Result<const Json*> list_of(const Json& body, const char* name) {
  static const Json empty = Json::array();
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return &empty;
  if (!it->is_array()) return failure(std::string(name) + ": a list is expected");
  if (it->size() > kMaxImportItems)
    return failure(std::string(name) + ": more than " + std::to_string(kMaxImportItems) + " items");
  return &*it;
}

Result<std::string> string_field(const Json& item, const char* list, const char* field) {
  auto it = item.find(field);
  if (!item.is_object() || it == item.end() || !it->is_string() || it->get_ref<const std::string&>().empty())
    return failure(std::string(list) + ": every item needs a string '" + field + "'");
  return it->get<std::string>();
}

Result<Import> read_import(const Json& body, const auth::UserStore& current) {
  if (!body.is_object()) return failure("the body must be a JSON object (an export of RabbitMQ or Ferry)");
  Import in;
  auto vhosts = list_of(body, "vhosts");
  if (!vhosts) return vhosts.error();
  for (const Json& v : **vhosts) {
    auto name = string_field(v, "vhosts", "name");
    if (!name) return name.error();
    if (Status ok = auth::check_name("vhost", *name); !ok) return ok.error();
    in.vhosts.push_back(std::move(*name));
  }
  auto users = list_of(body, "users");
  if (!users) return users.error();
  for (const Json& u : **users) {
    auto name = string_field(u, "users", "name");
    if (!name) return name.error();
    if (Status ok = auth::check_name("user", *name); !ok) return ok.error();
    auto hash = string_field(u, "users", "password_hash");
    if (!hash) return hash.error();
    const std::string algorithm = u.value("hashing_algorithm", std::string(kFerryAlgorithm));
    std::optional<std::string> stored =
        algorithm == kFerryAlgorithm ? std::optional<std::string>(*hash) : auth::from_rabbitmq_hash(algorithm, *hash);
    if (!stored || !auth::valid_hash(*stored))
      return failure("users: " + *name + ": a password_hash with hashing_algorithm '" + algorithm +
                     "' is not one Ferry reads (rabbit_password_hashing_sha256, _sha512, or ferry_pbkdf2_sha256)");
    Import::UserDef def{*name, std::move(*stored), {}};
    if (auto tags = u.find("tags"); tags != u.end()) {
      if (tags->is_string()) def.tags = auth::split_tags(tags->get<std::string>());
      else if (tags->is_array()) {
        for (const Json& t : *tags)
          if (t.is_string()) def.tags.push_back(t.get<std::string>());
      }
    }
    in.users.push_back(std::move(def));
  }
  auto perms = list_of(body, "permissions");
  if (!perms) return perms.error();
  for (const Json& p : **perms) {
    auth::PermissionEntry e;
    for (auto [field, into] : {std::pair{"user", &e.user}, std::pair{"vhost", &e.vhost}}) {
      auto v = string_field(p, "permissions", field);
      if (!v) return v.error();
      *into = std::move(*v);
    }
    for (auto [field, into] : {std::pair{"configure", &e.configure}, std::pair{"write", &e.write},
                               std::pair{"read", &e.read}}) {
      auto it = p.find(field);
      if (it == p.end() || !it->is_string()) return failure(std::string("permissions: every item needs '") + field + "'");
      *into = it->get<std::string>();
    }
    in.permissions.push_back(std::move(e));
  }
  auto queues = list_of(body, "queues");
  if (!queues) return queues.error();
  for (const Json& q : **queues) {
    auto name = string_field(q, "queues", "name");
    if (!name) return name.error();
    auto vhost = string_field(q, "queues", "vhost");
    if (!vhost) return vhost.error();
    if (name->size() > 1024 || name->starts_with("amq.gen-"))
      return failure("queues: '" + *name + "' cannot be declared");
    broker::QueueArguments arguments;
    if (auto args = q.find("arguments"); args != q.end() && !args->is_null()) {
      auto parsed = broker::QueueArguments::from_json(*args);
      if (!parsed) return failure("queues: " + *name + ": " + parsed.error().text());
      if (Status valid = parsed->validate(); !valid) return failure("queues: " + *name + ": " + valid.error().text());
      arguments = std::move(*parsed);
    }
    const bool known_vhost = current.has_vhost(*vhost) ||
                             std::find(in.vhosts.begin(), in.vhosts.end(), *vhost) != in.vhosts.end();
    if (!known_vhost) return failure("queues: " + *name + ": no vhost '" + *vhost + "'");
    in.queues.emplace_back(broker::Destination{broker::DestinationKind::kQueue, std::move(*name), std::move(*vhost)},
                           std::move(arguments));
  }
  auto exchanges = list_of(body, "exchanges");
  if (!exchanges) return exchanges.error();
  for (const Json& x : **exchanges) {
    broker::ExchangeChange c;
    c.kind = broker::ExchangeChange::Kind::kDeclare;
    auto name = string_field(x, "exchanges", "name");
    if (!name) return name.error();
    auto vhost = string_field(x, "exchanges", "vhost");
    if (!vhost) return vhost.error();
    auto type = string_field(x, "exchanges", "type");
    if (!type) return type.error();
    if (Status t = broker::parse_exchange_type(*type, c.properties.type); !t)
      return failure("exchanges: " + *name + ": " + t.error().message);
    c.vhost = std::move(*vhost);
    c.exchange = std::move(*name);
    c.properties.durable = flag(x, "durable", true);
    c.properties.auto_delete = flag(x, "auto_delete", false);
    c.properties.internal = flag(x, "internal", false);
    auto args = arguments_of(x);
    if (!args) return failure("exchanges: " + c.exchange + ": arguments must be strings, numbers or booleans");
    c.properties.arguments = std::move(*args);
    in.exchanges.push_back(std::move(c));
  }
  auto bindings = list_of(body, "bindings");
  if (!bindings) return bindings.error();
  for (const Json& b : **bindings) {
    broker::ExchangeChange c;
    c.kind = broker::ExchangeChange::Kind::kBind;
    auto source = string_field(b, "bindings", "source");
    if (!source) return source.error();
    auto vhost = string_field(b, "bindings", "vhost");
    if (!vhost) return vhost.error();
    auto dest = string_field(b, "bindings", "destination");
    if (!dest) return dest.error();
    const std::string kind = b.value("destination_type", "queue");
    if (kind != "queue" && kind != "exchange") return failure("bindings: destination_type must be queue or exchange");
    c.vhost = std::move(*vhost);
    c.exchange = std::move(*source);
    c.destination = kind == "queue" ? broker::BindingDestination::queue(std::move(*dest))
                                    : broker::BindingDestination::exchange(std::move(*dest));
    auto key = b.find("routing_key");
    if (key != b.end() && key->is_string()) c.key = key->get<std::string>();
    auto args = arguments_of(b);
    if (!args) return failure("bindings: arguments must be strings, numbers or booleans");
    c.arguments = std::move(*args);
    in.exchanges.push_back(std::move(c));
  }
  for (const auto& c : in.exchanges) {
    const bool known = current.has_vhost(c.vhost) ||
                       std::find(in.vhosts.begin(), in.vhosts.end(), c.vhost) != in.vhosts.end();
    if (!known) return failure((c.kind == broker::ExchangeChange::Kind::kDeclare ? "exchanges: " : "bindings: ") +
                               c.exchange + ": no vhost '" + c.vhost + "'");
  }
  auto policies = list_of(body, "policies");
  if (!policies) return policies.error();
  for (const Json& p : **policies) {
    if (!p.is_object()) return failure("policies: an item is not an object");
    auto name = string_field(p, "policies", "name");
    if (!name) return name.error();
    auto vhost = string_field(p, "policies", "vhost");
    if (!vhost) return vhost.error();
    const bool known = current.has_vhost(*vhost) ||
                       std::find(in.vhosts.begin(), in.vhosts.end(), *vhost) != in.vhosts.end();
    if (!known) return failure("policies: " + *name + ": no vhost '" + *vhost + "'");
    auto policy = broker::Policy::from_json(*vhost, *name, p);
    if (!policy) return failure("policies: " + *name + ": " + policy.error().text());
    in.policies.push_back(std::move(*policy));
  }
  return in;
}

// Applies the imported exchanges and bindings one after the other (each
// answered once every shard has it), then answers 204, or the first
// failure (RabbitMQ's words: an inequivalent redeclare is 406).
void apply_exchanges(ApiContext& ctx, std::shared_ptr<std::vector<broker::ExchangeChange>> changes, std::size_t i,
                     Reply reply) {
  if (i == changes->size()) {
    Response res;
    res.status = 204;
    return reply(std::move(res));
  }
  ctx.broker.change_exchanges(ShardId(0), (*changes)[i], [&ctx, changes, i, reply](Status s) {
    if (!s) {
      const auto& c = (*changes)[i];
      const bool inequivalent = s.error().message.starts_with("inequivalent");
      return reply(error_response(inequivalent ? 406 : 400, inequivalent ? "precondition_failed" : "bad_request",
                                  (c.kind == broker::ExchangeChange::Kind::kDeclare ? "exchanges: " : "bindings: ") +
                                      s.error().text()));
    }
    apply_exchanges(ctx, changes, i + 1, reply);
  });
}

// Declares the imported queues with their arguments (as PUT /api/queues
// does; an existing queue with other arguments is refused in RabbitMQ's
// words), remembers them across restarts, then answers.
void declare_queues(ApiContext& ctx, std::vector<std::pair<broker::Destination, broker::QueueArguments>> queues,
                    Reply reply) {
  struct State {
    std::size_t left = 0;
    Response error;
    bool failed = false;
    Reply reply;
  };
  auto st = std::make_shared<State>();
  st->left = queues.size() + 1;
  st->reply = std::move(reply);
  auto finish = [st] {
    if (--st->left != 0) return;
    if (st->failed) return st->reply(std::move(st->error));
    Response res;
    res.status = 204;
    st->reply(std::move(res));
  };
  auto fail = [st](Response r) {
    if (st->failed) return;
    st->failed = true;
    st->error = std::move(r);
  };
  using Declared = broker::ShardBroker::DeclareResult;
  for (auto& [d, args] : queues) {
    const ShardId owner = ctx.broker.owner_of(d);
    ctx.broker.post(owner, [&ctx, owner, d = std::move(d), args = std::move(args), finish, fail]() mutable {
      std::string mismatch;
      const Declared result = ctx.broker.local(owner).declare_queue(d, true, &args, &mismatch);
      ctx.broker.post(ShardId(0), [&ctx, d = std::move(d), args = std::move(args), result,
                                   mismatch = std::move(mismatch), finish, fail] {
        if (result == Declared::kMismatch) fail(error_response(406, "precondition_failed", "queues: " + mismatch));
        else if (result == Declared::kLimit)
          fail(error_response(409, "limit", "queue limit reached (max-queues); " + d.to_string() + " in vhost '" +
                                                d.vhost + "' not created"));
        else if (ctx.declared != nullptr)
          if (Status added = ctx.declared->add(d.vhost, d.name, args); !added)
            fail(error_response(500, "internal_error", "queue " + d.name + " is declared but not remembered: " +
                                                           added.error().text()));
        finish();
      });
    });
  }
  finish();
}

// Sets the imported policies (written once, all or none; applied on every
// shard), then runs `next`: queues declared after them follow them.
void set_policies(ApiContext& ctx, const std::shared_ptr<Import>& import, std::function<void()> next, Reply reply) {
  if (import->policies.empty()) return next();
  broker::PolicyStore* store = ctx.broker.policy_store();
  if (store == nullptr)
    return reply(error_response(400, "bad_request", "policies: this broker keeps none (no data directory)"));
  if (Status put = store->put_all(std::move(import->policies)); !put) {
    const std::string text = "policies: " + put.error().text();
    return reply(text.find("limit") != std::string::npos ? error_response(409, "limit", text)
                                                         : error_response(500, "internal_error", text));
  }
  ctx.broker.publish_policies(std::move(next));
}

// The reply of the queue step: on success, go on with the exchanges.
Reply then_exchanges(ApiContext& ctx, const std::shared_ptr<Import>& import, Reply reply) {
  return [&ctx, import, reply = std::move(reply)](Response res) mutable {
    if (res.status >= 300) return reply(std::move(res));
    apply_exchanges(ctx, std::make_shared<std::vector<broker::ExchangeChange>>(std::move(import->exchanges)), 0,
                    std::move(reply));
  };
}

}  // namespace

void add_definitions_routes(Router& r, ApiContext& ctx) {
  using Access = Router::Access;
  r.add("GET", "/api/definitions", [&ctx](const Request&, const std::vector<std::string>&, Reply reply) {
    export_definitions(ctx, std::nullopt, std::move(reply));
  }, Access::kAdministrator);
  r.add("GET", "/api/definitions/{vhost}", [&ctx](const Request&, const std::vector<std::string>& cap, Reply reply) {
    export_definitions(ctx, cap[0], std::move(reply));
  }, Access::kAdministrator);

  // Merges, as RabbitMQ's import does: what is named is created or updated
  // (a user's hash and tags, a grant), nothing is deleted. Everything is
  // checked first; users, vhosts and permissions change in one edit of the
  // users file; then the queues are declared.
  r.add("POST", "/api/definitions", [&ctx](const Request& req, const std::vector<std::string>&, Reply reply) {
    Json body = Json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return reply(error_response(400, "bad_request", "the body is not JSON"));
    auto in = read_import(body, *snapshot(ctx));
    if (!in) return reply(error_response(400, "bad_request", in.error().text()));
    auto import = std::make_shared<Import>(std::move(*in));
    // Policies before queues: the queues declared next follow them.
    auto queues_next = [&ctx, import](Reply reply) {
      set_policies(
          ctx, import,
          [&ctx, import, reply] {
            declare_queues(ctx, std::move(import->queues), then_exchanges(ctx, import, reply));
          },
          reply);
    };
    if (import->vhosts.empty() && import->users.empty() && import->permissions.empty())
      return queues_next(std::move(reply));
    edit_users(
        ctx,
        [queues_next, reply = std::move(reply)](Response res) mutable {
          if (res.status >= 300) return reply(std::move(res));
          queues_next(std::move(reply));
        },
        std::make_shared<Outcome>(),
        [import](auth::UserStore& s, Outcome&) -> Status {
          for (const std::string& v : import->vhosts)
            if (!s.has_vhost(v))
              if (Status ok = s.add_vhost(v); !ok) return ok;
          for (const auto& u : import->users) {
            Status ok = s.find_user(u.name) == nullptr ? s.add_user(u.name, u.hash, u.tags)
                                                       : s.update_user(u.name, u.hash, u.tags);
            if (!ok) return failure("users: " + u.name + ": " + ok.error().text());
          }
          for (const auto& p : import->permissions)
            if (Status ok = s.set_permissions(p.user, p.vhost, p.configure, p.write, p.read); !ok)
              return failure("permissions: " + p.user + " in " + p.vhost + ": " + ok.error().text());
          return {};
        });
  }, Access::kAdministrator);
}

}  // namespace ferry::http
