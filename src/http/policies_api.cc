// /api/policies: RabbitMQ's paths and JSON (docs/management.md,
// "Policies"). The store lives on shard 0, where these handlers run; a
// change is written to <data-dir>/policies.json first, then every shard
// applies it to its queues (Broker::publish_policies) before the answer,
// so a GET /api/queues after a PUT shows the queues following it.
#include "auth/user_store.h"
#include "broker/policy_store.h"
#include "http/api.h"
#include "http/json.h"
#include "http/paging.h"

namespace ferry::http {

namespace {

std::optional<Response> unknown_vhost(ApiContext& ctx, const std::string& vhost) {
  if (ctx.users == nullptr || ctx.users->store()->has_vhost(vhost)) return std::nullopt;
  return error_response(404, "not_found", "no vhost '" + vhost + "'");
}

Response no_store() {
  return error_response(503, "unavailable", "policies are not kept by this broker (no data directory)");
}

Json list(ApiContext& ctx, const VhostFilter& filter, const std::string* only_vhost) {
  Json out = Json::array();
  for (const auto& p : ctx.broker.policy_store()->all())
    if (filter.sees(p.vhost) && (only_vhost == nullptr || p.vhost == *only_vhost)) out.push_back(p.to_json());
  return out;
}

Response status(int code) {
  Response r;
  r.status = code;
  return r;
}

}  // namespace

void add_policy_routes(Router& r, ApiContext& ctx) {
  r.add("GET", "/api/policies", [&ctx](const Request& req, const std::vector<std::string>&, Reply reply) {
    if (ctx.broker.policy_store() == nullptr) return reply(json_ok(Json::array()));
    reply(paged(list(ctx, req.vhosts, nullptr), req));
  });
  r.add("GET", "/api/policies/{vhost}", [&ctx](const Request& req, const std::vector<std::string>& cap, Reply reply) {
    if (auto r = unknown_vhost(ctx, cap[0])) return reply(*r);
    if (ctx.broker.policy_store() == nullptr) return reply(json_ok(Json::array()));
    reply(paged(list(ctx, req.vhosts, &cap[0]), req));
  });
  r.add("GET", "/api/policies/{vhost}/{name}",
        [&ctx](const Request& req, const std::vector<std::string>& cap, Reply reply) {
          const broker::Policy* p =
              ctx.broker.policy_store() ? ctx.broker.policy_store()->find(cap[0], cap[1]) : nullptr;
          if (p == nullptr || !req.vhosts.sees(cap[0]))
            return reply(error_response(404, "not_found", "no policy '" + cap[1] + "' in vhost '" + cap[0] + "'"));
          reply(json_ok(p->to_json()));
        });

  // RabbitMQ's body: {"pattern", "definition", "priority", "apply-to"}.
  // 201 when new, 204 when replaced; 400 naming what is wrong; 409 past
  // max-policies. Applied to every matching queue before the answer.
  r.add("PUT", "/api/policies/{vhost}/{name}",
        [&ctx](const Request& req, const std::vector<std::string>& cap, Reply reply) {
          if (auto r = unknown_vhost(ctx, cap[0])) return reply(*r);
          broker::PolicyStore* store = ctx.broker.policy_store();
          if (store == nullptr) return reply(no_store());
          Json body = Json::parse(req.body, nullptr, false);
          if (body.is_discarded()) return reply(error_response(400, "bad_request", "the body is not JSON"));
          auto p = broker::Policy::from_json(cap[0], cap[1], body);
          if (!p) return reply(error_response(400, "bad_request", p.error().text()));
          const bool existed = store->find(cap[0], cap[1]) != nullptr;
          if (Status put = store->put(std::move(*p)); !put) {
            const std::string text = put.error().text();
            if (text.find("limit") != std::string::npos) return reply(error_response(409, "limit", text));
            return reply(error_response(500, "internal_error", "the policy is not set: " + text));
          }
          ctx.broker.publish_policies([reply, existed] { reply(status(existed ? 204 : 201)); });
        });

  r.add("DELETE", "/api/policies/{vhost}/{name}",
        [&ctx](const Request&, const std::vector<std::string>& cap, Reply reply) {
          broker::PolicyStore* store = ctx.broker.policy_store();
          if (store == nullptr) return reply(no_store());
          auto removed = store->remove(cap[0], cap[1]);
          if (!removed)
            return reply(error_response(500, "internal_error", "the policy is not deleted: " + removed.error().text()));
          if (!*removed)
            return reply(error_response(404, "not_found", "no policy '" + cap[1] + "' in vhost '" + cap[0] + "'"));
          ctx.broker.publish_policies([reply] { reply(status(204)); });
        });
}

}  // namespace ferry::http
