// The web console's static files (open: the console asks for credentials
// itself and sends them with each API call) and the routes not built yet.
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

void not_implemented(const Request& req, const std::vector<std::string>&, Reply reply) {
  reply(error_response(501, "not_implemented",
                       "users and permissions arrive with authentication; until then the "
                       "management API accepts guest/guest from loopback only"));
}
}  // namespace

void add_console_routes(Router& r) {
  auto h = [](const Request& req, const std::vector<std::string>&, Reply reply) { serve_asset(req, std::move(reply)); };
  r.add("GET", "/", h, true);
  r.add("GET", "/index.html", h, true);
  // Assets nest a few folders deep at most.
  r.add("GET", "/assets/{a}", h, true);
  r.add("GET", "/assets/{a}/{b}", h, true);
  r.add("GET", "/assets/{a}/{b}/{c}", h, true);
  r.add("GET", "/favicon.ico", h, true);
}

void add_all_routes(Router& r, ApiContext& ctx) {
  add_overview_routes(r, ctx);
  add_connection_routes(r, ctx);
  add_queue_routes(r, ctx);
  add_topic_routes(r, ctx);
  add_metrics_routes(r, ctx);
  add_console_routes(r);
  r.add("GET", "/api/users", not_implemented);
  r.add("PUT", "/api/users/{name}", not_implemented);
  r.add("DELETE", "/api/users/{name}", not_implemented);
  r.add("GET", "/api/permissions", not_implemented);
  r.add("PUT", "/api/permissions/{vhost}/{user}", not_implemented);
  r.add("DELETE", "/api/permissions/{vhost}/{user}", not_implemented);
}

}  // namespace ferry::http
