#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "auth/authenticator.h"
#include "broker/broker.h"
#include "broker/declared_queues.h"
#include "broker/shard_broker.h"
#include "broker/stats.h"
#include "cluster/cluster_service.h"
#include "net/server.h"
#include "shard/shard_set.h"
#include "store/journal.h"

namespace ferry::http {

// One listener as /api/overview shows it.
struct Listener {
  std::string protocol;  // "stomp", "http", ...
  std::string address;   // "127.0.0.1:61613"
};

// What the API handlers reach. They run on shard 0 and touch other shards'
// objects only through tasks (gather(), Broker::post); the references here
// outlive the HTTP server.
struct ApiContext {
  broker::Broker& broker;
  shard::ShardSet& shards;
  net::Server& stomp;
  store::Journal* journal;  // may be null
  const broker::BrokerOptions& options;  // the limits the API reports
  std::string data_dir;                   // where the journal is (free disk space)
  std::int64_t started_mono_ms = 0;
  std::vector<Listener> listeners;  // filled by the app before start
  auth::Authenticator* users = nullptr;  // null: the built-in guest only (unit tests)
  broker::DeclaredQueues* declared = nullptr;  // null: declared queues are not remembered
  cluster::ClusterService* cluster = nullptr;  // null: a single broker (no cluster-etcd)
  // The MQTT listeners' server (null: MQTT off). Its connections are listed
  // with `mqtt_id_bit` set in their ids (session::MqttSession::kIdBit, the
  // ids the broker knows them by), which tells them from STOMP's.
  net::Server* mqtt = nullptr;
  std::uint64_t mqtt_id_bit = 0;
  // MQTT connections on the STOMP WebSocket listeners (ws://HOST:PORT/mqtt)
  // are the STOMP server's: listed by it with this bit and mqtt_id_bit set
  // (session::MqttSession::kStompWsBit), and closed through it.
  std::uint64_t mqtt_stomp_ws_bit = 0;
};

// Scatter-gather: runs `on_shard(shard)` on every shard and then
// `done(results)` on shard 0, results indexed by shard. `on_shard` must
// return values (no pointers into the shard).
template <typename T>
void gather(ApiContext& ctx, std::function<T(ShardId)> on_shard,
            std::function<void(std::vector<T>)> done) {
  struct State {
    std::vector<T> results;
    std::uint32_t left = 0;
    std::function<void(std::vector<T>)> done;
  };
  const std::uint32_t n = ctx.shards.shard_count();
  auto st = std::make_shared<State>();
  st->results.resize(n);
  st->left = n;
  st->done = std::move(done);
  auto fn = std::make_shared<std::function<T(ShardId)>>(std::move(on_shard));
  for (std::uint32_t i = 0; i < n; ++i) {
    // The answer travels back holding the only reference this task had, so
    // the state (and the HTTP session in `done`) is released on shard 0.
    ctx.shards.post(ShardId(i), [&ctx, st, fn, i]() mutable {
      T r = (*fn)(ShardId(i));
      ctx.shards.post(ShardId(0), [st = std::move(st), i, r = std::move(r)]() mutable {
        st->results[i] = std::move(r);
        if (--st->left == 0) st->done(std::move(st->results));
      });
    });
  }
}

}  // namespace ferry::http
