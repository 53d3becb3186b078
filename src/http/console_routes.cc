// The web console's static files (open: the console asks for credentials
// itself and sends them with each API call), and the list of all routes.
#include "http/api.h"
#include "http/console_assets.h"
#include "http/json.h"

namespace ferry::http {

namespace {
void serve_asset(const Request& req, Reply reply) {
  const ConsoleAsset* a = find_console_asset(req.path);
  if (a == nullptr) return reply(error_response(404, "not_found", "no such resource: " + req.path));
  Response res;
  res.content_type = std::string(a->content_type);
  res.body = std::string(a->body);
  reply(std::move(res));
}

}  // namespace

void add_console_routes(Router& r) {
  auto h = [](const Request& req, const std::vector<std::string>&, Reply reply) { serve_asset(req, std::move(reply)); };
  r.add("GET", "/", h, Router::Access::kOpen);
  r.add("GET", "/index.html", h, Router::Access::kOpen);
  // Assets nest a few folders deep at most.
  r.add("GET", "/assets/{a}", h, Router::Access::kOpen);
  r.add("GET", "/assets/{a}/{b}", h, Router::Access::kOpen);
  r.add("GET", "/assets/{a}/{b}/{c}", h, Router::Access::kOpen);
  r.add("GET", "/favicon.ico", h, Router::Access::kOpen);
}

void add_all_routes(Router& r, ApiContext& ctx) {
  add_overview_routes(r, ctx);
  add_connection_routes(r, ctx);
  add_queue_routes(r, ctx);
  add_publish_routes(r, ctx);
  add_definitions_routes(r, ctx);
  add_topic_routes(r, ctx);
  add_exchange_routes(r, ctx);
  add_policy_routes(r, ctx);
  add_metrics_routes(r, ctx);
  add_user_routes(r, ctx);
  add_health_routes(r, ctx);
  add_cluster_routes(r, ctx);
  add_console_routes(r);
}

}  // namespace ferry::http
