// /api/exchanges and /api/bindings: RabbitMQ's management API paths and
// JSON field names (docs/management.md). Reads come from shard 0's replica
// of the routing tables (the handlers run on shard 0); changes go through
// Broker::change_exchanges, which answers once every shard has them.
#include <fmt/format.h>

#include <set>

#include "auth/user_store.h"
#include "broker/arguments_json.h"
#include "http/api.h"
#include "http/json.h"
#include "http/paging.h"

namespace ferry::http {

namespace {

using broker::Arguments;
using broker::BindingDestination;
using broker::BindingInfo;
using broker::ExchangeChange;

// RabbitMQ names the default exchange "amq.default" in paths, "" in bodies.
std::string exchange_of_path(const std::string& name) { return name == "amq.default" ? std::string() : name; }

// The body's "arguments" (absent or null: none), as the routing core keeps
// them (arguments_json.h); nullopt: not an object of such values.
std::optional<Arguments> arguments_of(const Json& body) {
  return broker::arguments_from_json(body.contains("arguments") ? body["arguments"] : Json());
}

Json exchange_json(const std::string& vhost, const broker::Exchange& x) {
  const auto& p = x.properties();
  return Json{{"name", x.name()},
              {"vhost", vhost},
              {"type", broker::exchange_type_name(p.type)},
              {"durable", p.durable},
              {"auto_delete", p.auto_delete},
              {"internal", p.internal},
              {"arguments", broker::arguments_to_json(p.arguments)}};
}

Json binding_json(const BindingInfo& b) {
  return Json{{"source", b.source},
              {"vhost", b.vhost},
              {"destination", b.destination.name},
              {"destination_type", b.destination.kind == BindingDestination::Kind::kQueue ? "queue" : "exchange"},
              {"routing_key", b.key},
              {"arguments", broker::arguments_to_json(b.arguments)},
              {"properties_key", broker::binding_properties_key(b.key, b.arguments)}};
}

// The routing core's failure texts (RabbitMQ's words) as HTTP statuses.
Response change_error(const Error& e) {
  const std::string& t = e.message;
  if (t.starts_with("inequivalent arg")) return error_response(406, "precondition_failed", t);
  if (t.starts_with("no ")) return error_response(404, "not_found", t);
  if (t.find("limit") != std::string::npos) return error_response(409, "limit", t);
  if (t.find("in use") != std::string::npos) return error_response(409, "in_use", t);
  if (t.find("reserved prefix") != std::string::npos || t.find("not permitted") != std::string::npos ||
      t.find("not allowed") != std::string::npos)
    return error_response(403, "access_refused", t);
  if (t.starts_with("done, but not written")) return error_response(500, "internal_error", t);
  return error_response(400, "bad_request", e.detail.empty() ? t : t + ": " + e.detail);
}

// RabbitMQ checks a management user's permissions in the vhost, as for a
// client: configure to declare or delete an exchange, read on the source
// and write on the destination of a binding. Resources by their canonical
// text ("/exchange/NAME", "/queue/NAME"; docs/security.md).
std::optional<Response> refused(ApiContext& ctx, const Request& req, const std::string& vhost, auth::Access a,
                                const std::string& resource) {
  if (ctx.users == nullptr) return std::nullopt;
  auto store = ctx.users->store();
  if (!store->has_vhost(vhost)) return error_response(404, "not_found", "no vhost '" + vhost + "'");
  const auth::Permissions* p = store->permissions(req.user, vhost);
  if (p != nullptr && p->allows(a, resource)) return std::nullopt;
  return error_response(403, "access_refused",
                        fmt::format("user '{}' has no {} permission on {} in vhost '{}'", req.user,
                                    auth::to_string(a), resource, vhost));
}

// A vhost the users file does not know: 404 (and no table is made for it).
std::optional<Response> unknown_vhost(ApiContext& ctx, const std::string& vhost) {
  if (ctx.users == nullptr || ctx.users->store()->has_vhost(vhost)) return std::nullopt;
  return error_response(404, "not_found", "no vhost '" + vhost + "'");
}

std::string exchange_resource(const std::string& name) { return "/exchange/" + name; }
std::string destination_resource(const BindingDestination& d) {
  return (d.kind == BindingDestination::Kind::kQueue ? "/queue/" : "/exchange/") + d.name;
}

Response no_content(unsigned status = 204) {
  Response r;
  r.status = status;
  return r;
}

// The vhosts whose exchanges a listing shows: every vhost the users file
// knows and every one that has a table, as the user may see them.
std::set<std::string> vhosts_of(ApiContext& ctx, const VhostFilter& filter) {
  std::set<std::string> out;
  if (ctx.users != nullptr) out = ctx.users->store()->vhosts();
  else out.insert("/");
  for (std::string& v : ctx.broker.exchanges(ShardId(0)).vhosts()) out.insert(std::move(v));
  std::erase_if(out, [&](const std::string& v) { return !filter.sees(v); });
  return out;
}

Json list_exchanges(ApiContext& ctx, const std::set<std::string>& vhosts) {
  Json out = Json::array();
  broker::ExchangeReplica& r = ctx.broker.exchanges(ShardId(0));
  for (const std::string& v : vhosts)
    for (const broker::Exchange* x : r.table(v).exchanges()) out.push_back(exchange_json(v, *x));
  return out;
}

Json list_bindings(ApiContext& ctx, const std::set<std::string>& vhosts,
                   const std::function<bool(const BindingInfo&)>& keep) {
  Json out = Json::array();
  for (const std::string& v : vhosts)
    for (const BindingInfo& b : ctx.broker.exchanges(ShardId(0)).bindings(v))
      if (keep(b)) out.push_back(binding_json(b));
  return out;
}

BindingDestination destination_of(const std::string& kind, const std::string& name) {
  return kind == "q" ? BindingDestination::queue(name) : BindingDestination::exchange(name);
}

void change(ApiContext& ctx, ExchangeChange c, std::function<void(Status)> done) {
  ctx.broker.change_exchanges(ShardId(0), std::move(c), std::move(done));
}

void put_exchange(ApiContext& ctx, const Request& req, const std::vector<std::string>& cap, Reply reply) {
  const std::string& vhost = cap[0];
  const std::string name = exchange_of_path(cap[1]);
  if (auto r = refused(ctx, req, vhost, auth::Access::kConfigure, exchange_resource(name))) return reply(*r);
  Json body = Json::parse(req.body.empty() ? std::string("{}") : req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return reply(error_response(400, "bad_request",
                                "expected a JSON object {\"type\", \"durable\", \"auto_delete\", \"internal\", "
                                "\"arguments\"}"));
  if (!body.contains("type") || !body["type"].is_string())
    return reply(error_response(400, "bad_request", "'type' is required: direct, fanout, topic or headers"));
  ExchangeChange c;
  c.kind = ExchangeChange::Kind::kDeclare;
  c.vhost = vhost;
  c.exchange = name;
  if (Status t = broker::parse_exchange_type(body["type"].get<std::string>(), c.properties.type); !t)
    return reply(error_response(400, "bad_request", t.error().message));
  // RabbitMQ's defaults: durable, not auto-delete, not internal.
  c.properties.durable = true;
  for (auto [field, target] : {std::pair{"durable", &c.properties.durable},
                               std::pair{"auto_delete", &c.properties.auto_delete},
                               std::pair{"internal", &c.properties.internal}}) {
    if (!body.contains(field)) continue;
    // rabbitmqadmin sends "true"/"false" strings; RabbitMQ takes both.
    const Json& v = body[field];
    if (v.is_boolean()) *target = v.get<bool>();
    else if (v == "true" || v == "false") *target = v == "true";
    else return reply(error_response(400, "bad_request", fmt::format("'{}' must be true or false", field)));
  }
  auto args = arguments_of(body);
  if (!args)
    return reply(error_response(400, "bad_request", "'arguments' must be an object of strings, numbers or booleans"));
  c.properties.arguments = std::move(*args);
  const bool existed = ctx.broker.exchanges(ShardId(0)).table(vhost).find(name) != nullptr;
  change(ctx, std::move(c), [reply, existed](Status s) {
    if (!s) return reply(change_error(s.error()));
    reply(no_content(existed ? 204 : 201));
  });
}

void delete_exchange(ApiContext& ctx, const Request& req, const std::vector<std::string>& cap, Reply reply) {
  const std::string& vhost = cap[0];
  const std::string name = exchange_of_path(cap[1]);
  if (auto r = refused(ctx, req, vhost, auth::Access::kConfigure, exchange_resource(name))) return reply(*r);
  if (!name.empty() && ctx.broker.exchanges(ShardId(0)).table(vhost).find(name) == nullptr)
    return reply(error_response(404, "not_found", fmt::format("no exchange '{}' in vhost '{}'", name, vhost)));
  ExchangeChange c;
  c.kind = ExchangeChange::Kind::kDelete;
  c.vhost = vhost;
  c.exchange = name;
  c.if_unused = req.param("if-unused") == "true";
  change(ctx, std::move(c), [reply](Status s) { reply(s ? no_content() : change_error(s.error())); });
}

// POST /api/bindings/{vhost}/e/{source}/{q|e}/{destination}
void post_binding(ApiContext& ctx, const Request& req, const std::vector<std::string>& cap,
                  const std::string& kind, Reply reply) {
  const std::string& vhost = cap[0];
  const std::string source = exchange_of_path(cap[1]);
  const BindingDestination dest = destination_of(kind, cap[2]);
  if (auto r = refused(ctx, req, vhost, auth::Access::kRead, exchange_resource(source))) return reply(*r);
  if (auto r = refused(ctx, req, vhost, auth::Access::kWrite, destination_resource(dest))) return reply(*r);
  Json body = Json::parse(req.body.empty() ? std::string("{}") : req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return reply(error_response(400, "bad_request", "expected a JSON object {\"routing_key\", \"arguments\"}"));
  ExchangeChange c;
  c.kind = ExchangeChange::Kind::kBind;
  c.vhost = vhost;
  c.exchange = source;
  c.destination = dest;
  if (body.contains("routing_key")) {
    if (!body["routing_key"].is_string())
      return reply(error_response(400, "bad_request", "'routing_key' must be a string"));
    c.key = body["routing_key"].get<std::string>();
  }
  auto args = arguments_of(body);
  if (!args)
    return reply(error_response(400, "bad_request", "'arguments' must be an object of strings, numbers or booleans"));
  c.arguments = std::move(*args);
  const std::string location = fmt::format("/api/bindings/{}/e/{}/{}/{}/{}", percent_encode(vhost),
                                           percent_encode(cap[1]), kind, percent_encode(dest.name),
                                           percent_encode(broker::binding_properties_key(c.key, c.arguments)));
  auto bind = [&ctx, reply, location](ExchangeChange c) {
    change(ctx, std::move(c), [reply, location](Status s) {
      if (!s) return reply(change_error(s.error()));
      Response r = no_content(201);
      r.headers.emplace_back("Location", location);
      reply(std::move(r));
    });
  };
  // A queue must exist, as in RabbitMQ: held by its shard now (declared,
  // holding messages or consumers), or already bound.
  const broker::RoutingTable* t = ctx.broker.exchanges(ShardId(0)).find(vhost);
  if (dest.kind == BindingDestination::Kind::kExchange || (t != nullptr && t->has_queue(dest.name)))
    return bind(std::move(c));
  const broker::Destination q{broker::DestinationKind::kQueue, dest.name, vhost};
  const ShardId owner = ctx.broker.owner_of(q);
  ctx.shards.post(owner, [&ctx, owner, q, c = std::move(c), bind, reply]() mutable {
    const bool exists = ctx.broker.local(owner).queue_stats(q).has_value();
    ctx.shards.post(ShardId(0), [exists, q, c = std::move(c), bind, reply]() mutable {
      if (!exists)
        return reply(error_response(404, "not_found", fmt::format("no queue '{}' in vhost '{}'", q.name, q.vhost)));
      bind(std::move(c));
    });
  });
}

// DELETE /api/bindings/{vhost}/e/{source}/{q|e}/{destination}/{props}
void delete_binding(ApiContext& ctx, const Request& req, const std::vector<std::string>& cap,
                    const std::string& kind, Reply reply) {
  const std::string& vhost = cap[0];
  const std::string source = exchange_of_path(cap[1]);
  const BindingDestination dest = destination_of(kind, cap[2]);
  if (auto r = refused(ctx, req, vhost, auth::Access::kRead, exchange_resource(source))) return reply(*r);
  if (auto r = refused(ctx, req, vhost, auth::Access::kWrite, destination_resource(dest))) return reply(*r);
  for (const BindingInfo& b : ctx.broker.exchanges(ShardId(0)).bindings(vhost)) {
    if (b.source != source || b.destination != dest || broker::binding_properties_key(b.key, b.arguments) != cap[3])
      continue;
    ExchangeChange c;
    c.kind = ExchangeChange::Kind::kUnbind;
    c.vhost = vhost;
    c.exchange = source;
    c.destination = dest;
    c.key = b.key;
    c.arguments = b.arguments;
    return change(ctx, std::move(c), [reply](Status s) { reply(s ? no_content() : change_error(s.error())); });
  }
  reply(error_response(404, "not_found", "no binding with properties key '" + cap[3] + "'"));
}

}  // namespace

void add_exchange_routes(Router& r, ApiContext& ctx) {
  r.add("GET", "/api/exchanges", [&ctx](const Request& req, const std::vector<std::string>&, Reply reply) {
    reply(paged(list_exchanges(ctx, vhosts_of(ctx, req.vhosts)), req));
  });
  r.add("GET", "/api/exchanges/{vhost}", [&ctx](const Request& req, const std::vector<std::string>& cap, Reply reply) {
    if (auto r = unknown_vhost(ctx, cap[0])) return reply(*r);
    reply(paged(list_exchanges(ctx, {cap[0]}), req));
  });
  r.add("GET", "/api/exchanges/{vhost}/{name}",
        [&ctx](const Request&, const std::vector<std::string>& cap, Reply reply) {
          if (auto r = unknown_vhost(ctx, cap[0])) return reply(*r);
          const std::string name = exchange_of_path(cap[1]);
          const broker::Exchange* x = ctx.broker.exchanges(ShardId(0)).table(cap[0]).find(name);
          if (x == nullptr)
            return reply(error_response(404, "not_found", fmt::format("no exchange '{}' in vhost '{}'", name, cap[0])));
          reply(json_ok(exchange_json(cap[0], *x)));
        });
  r.add("PUT", "/api/exchanges/{vhost}/{name}",
        [&ctx](const Request& req, const std::vector<std::string>& cap, Reply reply) {
          put_exchange(ctx, req, cap, std::move(reply));
        });
  r.add("DELETE", "/api/exchanges/{vhost}/{name}",
        [&ctx](const Request& req, const std::vector<std::string>& cap, Reply reply) {
          delete_exchange(ctx, req, cap, std::move(reply));
        });
  for (const std::string side : {"source", "destination"}) {
    r.add("GET", "/api/exchanges/{vhost}/{name}/bindings/" + side,
          [&ctx, side](const Request&, const std::vector<std::string>& cap, Reply reply) {
            if (auto r = unknown_vhost(ctx, cap[0])) return reply(*r);
            const std::string name = exchange_of_path(cap[1]);
            if (ctx.broker.exchanges(ShardId(0)).table(cap[0]).find(name) == nullptr)
              return reply(
                  error_response(404, "not_found", fmt::format("no exchange '{}' in vhost '{}'", name, cap[0])));
            reply(json_ok(list_bindings(ctx, {cap[0]}, [&](const BindingInfo& b) {
              return side == "source" ? b.source == name
                                      : b.destination == BindingDestination::exchange(name);
            })));
          });
  }

  r.add("GET", "/api/bindings", [&ctx](const Request& req, const std::vector<std::string>&, Reply reply) {
    reply(paged(list_bindings(ctx, vhosts_of(ctx, req.vhosts), [](const BindingInfo&) { return true; }), req));
  });
  r.add("GET", "/api/bindings/{vhost}", [&ctx](const Request& req, const std::vector<std::string>& cap, Reply reply) {
    reply(paged(list_bindings(ctx, {cap[0]}, [](const BindingInfo&) { return true; }), req));
  });
  for (const std::string kind : {"q", "e"}) {
    r.add("GET", "/api/bindings/{vhost}/e/{source}/" + kind + "/{destination}",
          [&ctx, kind](const Request&, const std::vector<std::string>& cap, Reply reply) {
            const std::string source = exchange_of_path(cap[1]);
            const BindingDestination dest = destination_of(kind, cap[2]);
            reply(json_ok(list_bindings(ctx, {cap[0]}, [&](const BindingInfo& b) {
              return b.source == source && b.destination == dest;
            })));
          });
    r.add("POST", "/api/bindings/{vhost}/e/{source}/" + kind + "/{destination}",
          [&ctx, kind](const Request& req, const std::vector<std::string>& cap, Reply reply) {
            post_binding(ctx, req, cap, kind, std::move(reply));
          });
    r.add("GET", "/api/bindings/{vhost}/e/{source}/" + kind + "/{destination}/{props}",
          [&ctx, kind](const Request&, const std::vector<std::string>& cap, Reply reply) {
            const std::string source = exchange_of_path(cap[1]);
            const BindingDestination dest = destination_of(kind, cap[2]);
            Json found = list_bindings(ctx, {cap[0]}, [&](const BindingInfo& b) {
              return b.source == source && b.destination == dest &&
                     broker::binding_properties_key(b.key, b.arguments) == cap[3];
            });
            if (found.empty())
              return reply(error_response(404, "not_found", "no binding with properties key '" + cap[3] + "'"));
            reply(json_ok(found[0]));
          });
    r.add("DELETE", "/api/bindings/{vhost}/e/{source}/" + kind + "/{destination}/{props}",
          [&ctx, kind](const Request& req, const std::vector<std::string>& cap, Reply reply) {
            delete_binding(ctx, req, cap, kind, std::move(reply));
          });
  }
}

}  // namespace ferry::http
