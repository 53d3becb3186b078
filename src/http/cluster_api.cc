// GET /api/cluster: this broker's view of the cluster (docs/cluster.md).
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "http/api.h"
#include "http/json.h"
#include "http/process_stats.h"

namespace ferry::http {

namespace {



// The view as JSON. Without a cluster: a single node that is its own
// controller, so that a tool reads one shape either way.
Json cluster_json(const ApiContext& ctx) {
  if (ctx.cluster == nullptr) {
    return Json{{"enabled", false},
                {"node", node_name()},
                {"coordination", "none"},
                {"controller", nullptr},
                {"controller_epoch", 0},
                {"is_controller", false},
                {"members", Json::array()}};
  }
  const cluster::ClusterView v = ctx.cluster->view();
  Json members = Json::array();
  for (const cluster::MemberInfo& m : v.members)
    members.push_back({{"node", m.node},
                       {"stomp", m.stomp},
                       {"http", m.http},
                       {"cluster", m.cluster},
                       {"version", m.version},
                       {"incarnation", m.incarnation},
                       {"controller", !v.controller.empty() && m.node == v.controller}});
  const std::int64_t left = v.lease.value == 0 ? 0 : std::max<std::int64_t>(0, v.lease_valid_until_ms - mono_ms());
  Json lease = v.lease.value == 0 ? Json(nullptr)
                                  : Json{{"id", std::to_string(v.lease.value)}, {"ttl_s", v.lease_ttl_s}, {"valid_for_ms", left}};
  Json etcd = Json::array();
  for (const std::string& e : ctx.cluster->options().etcd_endpoints) etcd.push_back(e);
  // The replicated logs this broker holds (docs/cluster.md "Replicated
  // streams"), as its replica sees them.
  Json replicated = Json::array();
  for (const auto& r : ctx.cluster->replicas()) {
    const char* role = r.role == cluster::Replica::Role::kLeader     ? "leader"
                       : r.role == cluster::Replica::Role::kFollower ? "follower"
                                                                     : "none";
    replicated.push_back({{"log", r.log},
                          {"role", role},
                          {"leader", r.state.leader.empty() ? Json(nullptr) : Json(r.state.leader)},
                          {"leader_epoch", r.state.leader_epoch.value},
                          {"replicas", r.state.replicas},
                          {"isr", r.state.isr},
                          {"log_end", r.log_end.value},
                          {"high_watermark", r.high_watermark.value},
                          {"lag", r.log_end.value - r.high_watermark.value},
                          {"applied", r.applied.value}});
  }
  return Json{{"enabled", true},
              {"cluster", v.cluster},
              {"node", v.node},
              {"coordination", cluster::coordination_name(v.coordination)},
              {"controller", v.controller.empty() ? Json(nullptr) : Json(v.controller)},
              {"controller_epoch", v.controller_epoch},
              {"is_controller", v.is_controller},
              {"members", members},
              {"lease", lease},
              {"etcd", etcd},
              {"last_error", v.last_error.empty() ? Json(nullptr) : Json(v.last_error)},
              {"duplicate_node_name", v.duplicate_name},
              {"replication", ctx.cluster->replication_enabled()},
              {"logs", replicated}};
}

}  // namespace

void add_cluster_routes(Router& r, ApiContext& ctx) {
  // Administrators only: it names every broker's addresses and the etcd
  // endpoints.
  r.add(
      "GET", "/api/cluster",
      [&ctx](const Request&, const std::vector<std::string>&, Reply reply) {
        reply(json_response(200, cluster_json(ctx).dump()));
      },
      Router::Access::kAdministrator);
}

}  // namespace ferry::http
