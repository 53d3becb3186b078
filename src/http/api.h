#pragma once

#include "http/context.h"
#include "http/router.h"

namespace ferry::http {

// The management API (docs/management.md), one function per resource family.
// Every handler runs on shard 0 and gathers from the shards by tasks.
void add_overview_routes(Router& r, ApiContext& ctx);
void add_connection_routes(Router& r, ApiContext& ctx);
void add_queue_routes(Router& r, ApiContext& ctx);
void add_definitions_routes(Router& r, ApiContext& ctx);  // export and import (RabbitMQ's format)
void add_publish_routes(Router& r, ApiContext& ctx);      // publish through amq.default, get from a queue
void add_topic_routes(Router& r, ApiContext& ctx);        // topics and subscriptions
void add_exchange_routes(Router& r, ApiContext& ctx);     // exchanges and bindings (RabbitMQ's paths)
void add_policy_routes(Router& r, ApiContext& ctx);       // policies (RabbitMQ's paths)
void add_metrics_routes(Router& r, ApiContext& ctx);      // /metrics (docs/metrics.md)
void add_user_routes(Router& r, ApiContext& ctx);         // whoami, users, vhosts, permissions
void add_health_routes(Router& r, ApiContext& ctx);       // /healthz, /readyz, /api/health/checks/...
void add_cluster_routes(Router& r, ApiContext& ctx);      // /api/cluster (docs/cluster.md)
void add_console_routes(Router& r);                       // / and /assets/... (open)

// Everything above.
void add_all_routes(Router& r, ApiContext& ctx);

}  // namespace ferry::http
