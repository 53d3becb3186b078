// /api/whoami, /api/users, /api/vhosts, /api/permissions (docs/management.md).
// Reads come from the authenticator's current snapshot; changes are edits
// of the users file run on the authenticator's thread (auth::Authenticator::
// submit_edit), answered back on shard 0. Everything but whoami and the
// vhost list needs the administrator tag.
#include <map>

#include "auth/authenticator.h"
#include "auth/password_hash.h"
#include "http/api.h"
#include "http/client_connections.h"
#include "http/json.h"
#include "http/paging.h"
#include "http/user_edits.h"

namespace ferry::http {

std::shared_ptr<const auth::UserStore> snapshot(ApiContext& ctx) {
  if (ctx.users != nullptr) return ctx.users->store();
  static const auto builtin = std::make_shared<const auth::UserStore>(auth::UserStore::builtin());
  return builtin;
}

void edit_users(ApiContext& ctx, Reply reply, std::shared_ptr<Outcome> outcome,
                std::function<Status(auth::UserStore&, Outcome&)> edit,
                std::function<void()> after) {
  if (ctx.users == nullptr || ctx.users->options().users_file.empty())
    return reply(error_response(409, "no_users_file",
                                "the broker runs without users-file (the built-in guest only): there is "
                                "nowhere to save users; start it with --users-file"));
  ctx.users->submit_edit(
      [outcome, edit = std::move(edit)](auth::UserStore& s) { return edit(s, *outcome); },
      [&ctx, reply = std::move(reply), outcome, after = std::move(after)](Status done) mutable {
        // On the authenticator's thread: the answer goes back to shard 0.
        ctx.shards.post(ShardId(0), [reply = std::move(reply), outcome, done = std::move(done),
                                     after = std::move(after)] {
          if (!done)
            return reply(error_response(outcome->error_status, outcome->error_code, done.error().text()));
          if (after) after();
          Response res;
          res.status = outcome->status;
          reply(std::move(res));
        });
      });
}

namespace {

using Captures = std::vector<std::string>;

// The vhosts named, each as RabbitMQ lists one: its name and the messages
// of its queues (gathered from every shard). `done` runs on shard 0.
void with_vhost_messages(ApiContext& ctx, std::vector<std::string> names, std::function<void(Json)> done) {
  using Counts = std::map<std::string, std::pair<std::uint64_t, std::uint64_t>>;  // vhost -> ready, unacked
  gather<Counts>(
      ctx,
      [&ctx](ShardId s) {
        Counts c;
        for (const auto& q : ctx.broker.local(s).queue_stats("")) {
          auto& [ready, unacked] = c[q.destination.vhost];
          ready += q.ready;
          unacked += q.unacked;
        }
        return c;
      },
      [names = std::move(names), done = std::move(done)](std::vector<Counts> parts) {
        Json out = Json::array();
        for (const std::string& v : names) {
          std::uint64_t ready = 0, unacked = 0;
          for (const auto& p : parts)
            if (auto it = p.find(v); it != p.end()) {
              ready += it->second.first;
              unacked += it->second.second;
            }
          out.push_back(Json{{"name", v},
                             {"description", ""},
                             {"tracing", false},
                             {"messages", ready + unacked},
                             {"messages_ready", ready},
                             {"messages_unacknowledged", unacked}});
        }
        done(std::move(out));
      });
}

Json user_json(const auth::User& u) { return Json{{"name", u.name}, {"tags", u.tags}}; }

Json permission_json(const auth::PermissionEntry& e) {
  return Json{{"user", e.user}, {"vhost", e.vhost}, {"configure", e.configure}, {"write", e.write},
              {"read", e.read}};
}

Error not_found(Outcome& o, std::string text) {
  o.error_status = 404;
  o.error_code = "not_found";
  return failure(std::move(text));
}

// Closes the client connections (STOMP and MQTT) of `user` (any user if nullopt) in `vhost`
// (any vhost if nullopt): a deleted user, a revoked grant or a deleted vhost
// is not left connected (as RabbitMQ does).
void close_connections_of(ApiContext& ctx, std::optional<std::string> user, std::optional<std::string> vhost) {
  for (std::uint32_t i = 0; i < ctx.shards.shard_count(); ++i) {
    ctx.shards.post(ShardId(i), [&ctx, s = ShardId(i), user, vhost] {
      for (const net::ConnectionInfo& c : client_connections(ctx, s))
        if ((!user || c.user == *user) && (!vhost || c.vhost == *vhost)) close_client_connection(ctx, s, c.id);
    });
  }
}

// "a,b" or ["a","b"] -> tags; an Error otherwise.
Result<std::vector<std::string>> tags_of(const Json& j) {
  std::vector<std::string> out;
  if (j.is_string()) {
    out = auth::split_tags(j.get<std::string>());
  } else if (j.is_array()) {
    for (const Json& t : j) {
      if (!t.is_string()) return failure("tags must be a string (\"a,b\") or a list of strings");
      for (std::string& one : auth::split_tags(t.get<std::string>())) out.push_back(std::move(one));
    }
  } else {
    return failure("tags must be a string (\"a,b\") or a list of strings");
  }
  if (out.size() > 32) return failure("at most 32 tags");
  return out;
}

void put_user(ApiContext& ctx, const Request& req, const Captures& cap, Reply reply) {
  const std::string name = cap[0];
  if (Status ok = auth::check_name("user", name); !ok)
    return reply(error_response(400, "bad_request", ok.error().text()));
  Json body = Json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return reply(error_response(400, "bad_request", "the body must be a JSON object: {\"password\": ..., \"tags\": ...}"));
  std::optional<std::string> password;
  if (body.contains("password")) {
    if (!body["password"].is_string()) return reply(error_response(400, "bad_request", "password must be a string"));
    password = body["password"].get<std::string>();
    if (password->size() > 1024) return reply(error_response(400, "bad_request", "password longer than 1024 bytes"));
  }
  // Or a hash made elsewhere (`ferry user add` writes the same form), as
  // RabbitMQ's password_hash: provisioning without a password in clear.
  std::optional<std::string> given_hash;
  if (body.contains("password_hash")) {
    if (password) return reply(error_response(400, "bad_request", "give password or password_hash, not both"));
    if (!body["password_hash"].is_string())
      return reply(error_response(400, "bad_request", "password_hash must be a string"));
    given_hash = body["password_hash"].get<std::string>();
    // RabbitMQ's form: its hash with hashing_algorithm (as in its API).
    if (auto algorithm = body.find("hashing_algorithm"); algorithm != body.end() && algorithm->is_string() &&
                                                         algorithm->get<std::string>().starts_with("rabbit_")) {
      given_hash = auth::from_rabbitmq_hash(algorithm->get<std::string>(), *given_hash);
      if (!given_hash)
        return reply(error_response(400, "bad_request", "password_hash is not a " +
                                                            algorithm->get<std::string>() + " hash Ferry reads"));
    }
    if (!auth::valid_hash(*given_hash))
      return reply(error_response(400, "bad_request",
                                  "password_hash must be a pbkdf2-sha256$ITERATIONS$SALT$HASH text (docs/security.md), "
                                  "or a RabbitMQ hash with its hashing_algorithm"));
  }
  std::optional<std::vector<std::string>> tags;
  if (body.contains("tags")) {
    auto given = tags_of(body["tags"]);
    if (!given) return reply(error_response(400, "bad_request", given.error().text()));
    tags = std::move(*given);
  }
  auto outcome = std::make_shared<Outcome>();
  edit_users(ctx, std::move(reply), outcome,
             [name, password, given_hash, tags](auth::UserStore& s, Outcome& o) -> Status {
               // Hashing is slow on purpose: it runs here, on the authenticator's thread.
               std::optional<std::string> hash = given_hash;
               if (password) {
                 auto hashed = auth::hash_password(*password);
                 if (!hashed) return hashed.error();
                 hash = std::move(*hashed);
               }
               if (s.find_user(name) == nullptr) {
                 if (!hash) return failure("a new user needs a password");
                 o.status = 201;
                 return s.add_user(name, std::move(*hash), tags.value_or(std::vector<std::string>{}));
               }
               o.status = 204;
               return s.update_user(name, std::move(hash), tags);
             });
}

void put_permissions(ApiContext& ctx, const Request& req, const Captures& cap, Reply reply) {
  const std::string vhost = cap[0], user = cap[1];
  Json body = Json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return reply(error_response(400, "bad_request",
                                "the body must be a JSON object: {\"configure\": ..., \"write\": ..., \"read\": ...}"));
  std::string patterns[3];
  const char* keys[3] = {"configure", "write", "read"};
  for (int i = 0; i < 3; ++i) {
    if (!body.contains(keys[i]) || !body[keys[i]].is_string())
      return reply(error_response(400, "bad_request", std::string(keys[i]) + " must be a string (a regular expression)"));
    patterns[i] = body[keys[i]].get<std::string>();
    if (patterns[i].size() > 4096)
      return reply(error_response(400, "bad_request", std::string(keys[i]) + " longer than 4096 bytes"));
  }
  auto outcome = std::make_shared<Outcome>();
  edit_users(ctx, std::move(reply), outcome,
             [vhost, user, c = patterns[0], w = patterns[1], r = patterns[2]](auth::UserStore& s,
                                                                              Outcome& o) -> Status {
               if (s.find_user(user) == nullptr) return not_found(o, "no user '" + user + "'");
               if (!s.has_vhost(vhost)) return not_found(o, "no vhost '" + vhost + "'");
               o.status = s.permissions(user, vhost) == nullptr ? 201 : 204;
               return s.set_permissions(user, vhost, c, w, r);  // a bad pattern: 400
             });
}

}  // namespace

void add_user_routes(Router& r, ApiContext& ctx) {
  using Access = Router::Access;

  // Who am I: any management user (the console shows pages by role).
  r.add("GET", "/api/whoami", [&ctx](const Request& req, const Captures&, Reply reply) {
    auto users = snapshot(ctx);
    const auth::User* u = users->find_user(req.user);
    reply(json_ok(Json{{"name", req.user},
                       {"tags", u ? Json(u->tags) : Json::array()},
                       {"role", std::string(tag_of(req.role))}}));
  });

  r.add("GET", "/api/users", [&ctx](const Request& req, const Captures&, Reply reply) {
    Json out = Json::array();
    for (const auto& [name, u] : snapshot(ctx)->users()) out.push_back(user_json(u));
    reply(paged(std::move(out), req));
  }, Access::kAdministrator);

  r.add("GET", "/api/users/{name}", [&ctx](const Request&, const Captures& cap, Reply reply) {
    const auth::User* u = snapshot(ctx)->find_user(cap[0]);
    if (u == nullptr) return reply(error_response(404, "not_found", "no user '" + cap[0] + "'"));
    reply(json_ok(user_json(*u)));
  }, Access::kAdministrator);

  r.add("PUT", "/api/users/{name}", [&ctx](const Request& req, const Captures& cap, Reply reply) {
    put_user(ctx, req, cap, std::move(reply));
  }, Access::kAdministrator);

  r.add("DELETE", "/api/users/{name}", [&ctx](const Request&, const Captures& cap, Reply reply) {
    const std::string name = cap[0];
    edit_users(ctx, std::move(reply), std::make_shared<Outcome>(),
               [name](auth::UserStore& s, Outcome& o) -> Status {
                 if (s.find_user(name) == nullptr) return not_found(o, "no user '" + name + "'");
                 return s.delete_user(name);
               },
               [&ctx, name] { close_connections_of(ctx, name, std::nullopt); });
  }, Access::kAdministrator);

  r.add("GET", "/api/users/{name}/permissions", [&ctx](const Request&, const Captures& cap, Reply reply) {
    auto users = snapshot(ctx);
    if (users->find_user(cap[0]) == nullptr) return reply(error_response(404, "not_found", "no user '" + cap[0] + "'"));
    Json out = Json::array();
    for (const auto& e : users->permission_entries())
      if (e.user == cap[0]) out.push_back(permission_json(e));
    reply(json_ok(out));
  }, Access::kAdministrator);

  // The vhost list: any management user (the console's vhost choices), the
  // vhosts they see.
  r.add("GET", "/api/vhosts", [&ctx](const Request& req, const Captures&, Reply reply) {
    std::vector<std::string> names;
    for (const std::string& v : snapshot(ctx)->vhosts())
      if (req.vhosts.sees(v)) names.push_back(v);
    with_vhost_messages(ctx, std::move(names), [reply, req](Json out) { reply(paged(std::move(out), req)); });
  });

  r.add("GET", "/api/vhosts/{name}", [&ctx](const Request& req, const Captures& cap, Reply reply) {
    if (!snapshot(ctx)->has_vhost(cap[0]) || !req.vhosts.sees(cap[0]))
      return reply(error_response(404, "not_found", "no vhost '" + cap[0] + "'"));
    with_vhost_messages(ctx, {cap[0]}, [reply](Json out) { reply(json_ok(out[0])); });
  });

  r.add("PUT", "/api/vhosts/{name}", [&ctx](const Request&, const Captures& cap, Reply reply) {
    const std::string name = cap[0];
    edit_users(ctx, std::move(reply), std::make_shared<Outcome>(),
               [name](auth::UserStore& s, Outcome& o) -> Status {
                 if (s.has_vhost(name)) {
                   o.status = 204;
                   return {};
                 }
                 o.status = 201;
                 return s.add_vhost(name);
               });
  }, Access::kAdministrator);

  r.add("DELETE", "/api/vhosts/{name}", [&ctx](const Request&, const Captures& cap, Reply reply) {
    const std::string name = cap[0];
    edit_users(ctx, std::move(reply), std::make_shared<Outcome>(),
               [name](auth::UserStore& s, Outcome& o) -> Status {
                 if (!s.has_vhost(name)) return not_found(o, "no vhost '" + name + "'");
                 return s.delete_vhost(name);
               },
               [&ctx, name] { close_connections_of(ctx, std::nullopt, name); });
  }, Access::kAdministrator);

  r.add("GET", "/api/permissions", [&ctx](const Request&, const Captures&, Reply reply) {
    Json out = Json::array();
    for (const auto& e : snapshot(ctx)->permission_entries()) out.push_back(permission_json(e));
    reply(json_ok(out));
  }, Access::kAdministrator);

  r.add("GET", "/api/permissions/{vhost}/{user}", [&ctx](const Request&, const Captures& cap, Reply reply) {
    for (const auto& e : snapshot(ctx)->permission_entries())
      if (e.vhost == cap[0] && e.user == cap[1]) return reply(json_ok(permission_json(e)));
    reply(error_response(404, "not_found", "no permissions for user '" + cap[1] + "' in vhost '" + cap[0] + "'"));
  }, Access::kAdministrator);

  r.add("PUT", "/api/permissions/{vhost}/{user}", [&ctx](const Request& req, const Captures& cap, Reply reply) {
    put_permissions(ctx, req, cap, std::move(reply));
  }, Access::kAdministrator);

  r.add("DELETE", "/api/permissions/{vhost}/{user}", [&ctx](const Request&, const Captures& cap, Reply reply) {
    const std::string vhost = cap[0], user = cap[1];
    edit_users(ctx, std::move(reply), std::make_shared<Outcome>(),
               [vhost, user](auth::UserStore& s, Outcome& o) -> Status {
                 if (s.permissions(user, vhost) == nullptr)
                   return not_found(o, "no permissions for user '" + user + "' in vhost '" + vhost + "'");
                 return s.clear_permissions(user, vhost);
               },
               [&ctx, user, vhost] { close_connections_of(ctx, user, vhost); });
  }, Access::kAdministrator);
}

}  // namespace ferry::http
