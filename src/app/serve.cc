#include "app/serve.h"

#include <algorithm>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <boost/asio/signal_set.hpp>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "auth/authenticator.h"
#include "broker/broker.h"
#include "broker/declared_exchanges.h"
#include "broker/declared_queues.h"
#include "broker/queue_log.h"
#include "app/replicated_streams.h"
#include "cluster/cluster_service.h"
#include "cluster/etcd_coordinator.h"
#include "common/clock.h"
#include "common/version.h"
#include "http/api.h"
#include "http/authenticator.h"
#include "http/context.h"
#include "http/http_options.h"
#include "http/router.h"
#include "http/server.h"
#include "http/startup_responder.h"
#include "net/server.h"
#include "net/tls_context.h"
#include "session/clients.h"
#include "session/mqtt_session.h"
#include "session/stomp_session.h"
#include "shard/shard_set.h"
#include "store/journal.h"

namespace ferry::app {

namespace {

// The users file (or the built-in guest), checked against the options that
// name users and vhosts. nullptr (logged) if unusable.
std::unique_ptr<auth::Authenticator> make_authenticator(const auth::AuthOptions& o) {
  auto loaded = o.users_file.empty() ? Result<auth::UserStore>(auth::UserStore::builtin())
                                     : auth::UserStore::load(o.users_file);
  if (!loaded) {
    spdlog::error("cannot read the users file: {}", loaded.error().text());
    return nullptr;
  }
  auth::UserStore& users = *loaded;
  if (!users.has_vhost(o.default_vhost)) {
    spdlog::error("default-vhost '{}' is not a vhost of {}", o.default_vhost,
                  o.users_file.empty() ? "the built-in configuration" : o.users_file);
    return nullptr;
  }
  if (!o.default_user.empty() && users.find_user(o.default_user) == nullptr)
    spdlog::warn("default-user '{}' does not exist: clients that send no login are refused", o.default_user);
  spdlog::info("users: {} user(s), {} vhost(s) from {}", users.users().size(), users.vhosts().size(),
               o.users_file.empty() ? "the built-in guest" : o.users_file);
  return std::make_unique<auth::Authenticator>(std::move(users), o);
}

// The cluster's part of this broker (cluster-etcd): its etcd client, its
// member key with the addresses clients and tools reach it on, on a thread
// of its own. nullptr without cluster-etcd, or (logged) if unusable.
std::unique_ptr<cluster::ClusterService> make_cluster(const cluster::ClusterOptions& given,
                                                      const std::vector<http::Listener>& listeners) {
  if (!given.enabled()) return nullptr;
  cluster::ClusterOptions o = given;
  if (o.node_name.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
      spdlog::error("node-name is not set and the host name is unknown");
      return nullptr;
    }
    o.node_name = host;
  }
  // Each etcd call must end well within a keep-alive period (a third of
  // the TTL), so that one silent endpoint does not cost the lease.
  const int timeout_ms = static_cast<int>(std::clamp<std::int64_t>(o.lease_ttl_s * 1000 / 4, 250, 2000));
  auto store = cluster::EtcdCoordinator::create(o.etcd_endpoints, timeout_ms);
  if (!store) {
    spdlog::error("cluster-etcd: {}", store.error().text());
    return nullptr;
  }
  cluster::MemberInfo self{.node = o.node_name, .version = std::string(kVersion)};
  for (const http::Listener& l : listeners) {
    if (l.protocol == "stomp" && self.stomp.empty()) self.stomp = l.address;
    if (l.protocol == "http" && self.http.empty()) self.http = l.address;
  }
  spdlog::info("cluster: node {} joins cluster {} through etcd {} (lease TTL {} s)", o.node_name, o.cluster_name,
               fmt::join(o.etcd_endpoints, ","), o.lease_ttl_s);
  return std::make_unique<cluster::ClusterService>(std::move(*store), o, std::move(self), [] { return mono_ms(); });
}

// systemd's readiness protocol (Type=notify): one datagram to the socket
// $NOTIFY_SOCKET names ("@..." is the abstract namespace). A no-op when not
// started by systemd. Written out rather than linking libsystemd for it.
void notify_systemd(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::size_t len = std::strlen(path);
  if (len >= sizeof(addr.sun_path)) return;
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  if (::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), size) < 0)
    spdlog::warn("cannot notify systemd ({}): {}", path, std::strerror(errno));
  ::close(fd);
}

// SIGHUP: the configuration is read again. What can change while running
// is applied: log-level now, the users file (re-read now; it is also
// watched). Every other option that changed is named: it takes effect at the
// next restart.
void reload_configuration(const ConfigReload& reload, std::vector<EffectiveValue>& current) {
  std::vector<EffectiveValue> fresh;
  Result<Config> reloaded = reload(fresh);
  if (!reloaded) {
    spdlog::error("SIGHUP: the configuration was not reloaded: {}", reloaded.error().text());
    return;
  }
  const Config& next = *reloaded;
  std::vector<std::string> later;
  for (std::size_t i = 0; i < fresh.size() && i < current.size(); ++i) {
    if (fresh[i].value == current[i].value) continue;
    if (fresh[i].name == "log-level") {
      spdlog::set_level(spdlog::level::from_str(fresh[i].value == "warn" ? "warning" : fresh[i].value));
      spdlog::info("SIGHUP: log-level is now {}", fresh[i].value);
      current[i] = fresh[i];
    } else {
      later.push_back(fresh[i].name);
    }
  }
  // The users file needs no signal: it is watched and re-read within a
  // second of a change (auth::Authenticator).
  spdlog::info("SIGHUP: configuration read again; users file {}",
               next.auth.users_file.empty() ? "not used (the built-in guest)" : "watched (re-read when it changes)");
  if (!later.empty())
    spdlog::warn("SIGHUP: changed, takes effect at the next restart: {}", fmt::join(later, ", "));
}

}  // namespace

int check_config(const Config& options, const std::string& source) {
  std::unique_ptr<auth::Authenticator> authenticator = make_authenticator(options.auth);
  if (!authenticator) {
    std::cerr << "ferry serve: configuration NOT ok (" << source << "): see the error above\n";
    return 2;
  }
  if (options.listen.tls_listen.enabled() || options.listen.wss_listen.enabled() || options.http.https_listen.enabled() ||
      options.mqtt_tls_listen.enabled() || options.mqtt_wss_listen.enabled()) {
    if (auto tls = net::TlsContext::create(options.listen.tls); !tls) {
      std::cerr << "ferry serve: configuration NOT ok (" << source << "): TLS: " << tls.error().text() << "\n";
      return 2;
    }
  }
  std::cout << "configuration ok: " << source << "\n";
  return 0;
}

int serve(const Config& configured, std::vector<EffectiveValue> effective, ConfigReload reload) {
  if (configured.auth.ssl_cert_login && configured.listen.tls.verify_client == net::TlsVerifyClient::kNone)
    spdlog::warn("ssl-cert-login is on but tls-verify-client is none: no client sends a certificate");
  std::unique_ptr<auth::Authenticator> authenticator = make_authenticator(configured.auth);
  if (!authenticator) return 1;
  const Config& options = configured;
  // The HTTPS listener's certificate, checked before anything starts. Its
  // own SSL_CTX (same files as the STOMP TLS listeners'); declared before
  // the loops so that it outlives every session.
  std::unique_ptr<net::TlsContext> https_tls;
  if (options.http.https_listen.enabled()) {
    auto tls = net::TlsContext::create(options.listen.tls);
    if (!tls) {
      spdlog::error("cannot start the HTTPS listener (https-listen): {}", tls.error().text());
      return 1;
    }
    https_tls = std::move(*tls);
  }
  store::JournalOptions journal_options = options.journal;
  journal_options.directory = options.data_dir;
  auto opened = store::Journal::open(journal_options);
  if (!opened) {
    spdlog::error("cannot open the journal: {}", opened.error().text());
    return 1;
  }
  std::unique_ptr<store::Journal> journal = std::move(*opened);
  shard::ShardSet shards(options.broker.shards);
  // Streams live beside the journal; an entry may be as large as a frame
  // (its headers and body), with the journal's fsync contract.
  broker::BrokerOptions broker_options = options.broker;
  broker_options.streams.directory = options.data_dir + "/streams";
  broker_options.streams.max_entry_bytes = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(options.stomp.limits.max_frame_size + 4096, 128u << 20));
  broker_options.streams.fsync = options.journal.fsync;
  broker::Broker broker(broker_options, shards, journal.get());
  // The management port answers during recovery (/healthz 200, /readyz 503
  // "recovering" with the progress), so a supervisor sees a broker starting
  // rather than "connection refused"; the real server takes its socket over.
  std::unique_ptr<http::StartupResponder> early_http;
  boost::asio::ip::tcp::endpoint http_endpoint;
  if (options.http.enabled) {
    auto started = http::StartupResponder::start(options.http.host, options.http.port,
                                                 [&broker] { return broker.recovery_progress(); });
    if (!started) {
      spdlog::error("cannot listen on {}:{} (HTTP, http-listen): {}", options.http.host, options.http.port,
                    started.error().text());
      return 1;
    }
    early_http = std::move(*started);
    http_endpoint = early_http->local_endpoint();
    // Not "listening on" yet: that is said once every listener is up.
    spdlog::info("health checks answered on {} during recovery (/healthz, /readyz)",
                 fmt::format("{}:{}", http_endpoint.address().to_string(), http_endpoint.port()));
  }
  // Policies first: queues recovered from the journal follow them.
  broker::PolicyStore policies(options.data_dir, options.broker.max_policies);
  if (Status loaded = policies.load(); !loaded) {
    spdlog::error("cannot read the policies: {}", loaded.error().text());
    return 1;
  }
  broker.set_policy_store(&policies);
  spdlog::info("recovering from {}", options.data_dir);
  spdlog::info("{}", broker.recover());
  spdlog::info("{}", broker.open_streams());
  // Queues created through the management API come back, empty or not.
  broker::DeclaredQueues declared(options.data_dir);
  if (Status loaded = declared.load(); !loaded) {
    spdlog::error("cannot read the declared queues: {}", loaded.error().text());
    return 1;
  }
  for (const auto& [vhost, name] : declared.entries()) {
    broker::Destination d{broker::DestinationKind::kQueue, name, vhost};
    const broker::QueueArguments args = declared.arguments_of({vhost, name});  // with their arguments
    // The loops do not run yet; never refused.
    (void)broker.local(broker.owner_of(d)).declare_queue(d, false, &args);
  }
  broker.set_declared_queues(&declared);  // queues declared with STOMP arguments are remembered there too
  // Queues made by traffic come back too, empty or not (queues.log, read
  // and compacted here; appended by its own writer thread from now on).
  broker::QueueLog queue_log(options.data_dir, options.journal.fsync != store::FsyncPolicy::kNever);
  if (auto opened_log = queue_log.open(); !opened_log) {
    spdlog::error("cannot read the queues made by traffic: {}", opened_log.error().text());
    return 1;
  } else {
    spdlog::info("{}", *opened_log);
  }
  for (const auto& [vhost, name] : queue_log.entries()) {
    broker::Destination d{broker::DestinationKind::kQueue, name, vhost};
    (void)broker.local(broker.owner_of(d)).declare_queue(d, false, nullptr);
  }
  broker.set_queue_log(&queue_log);
  // Durable exchanges and their bindings come back (after the queues).
  broker::DeclaredExchanges declared_exchanges(options.data_dir);
  if (auto restored = broker.restore_exchanges(&declared_exchanges); !restored) {
    spdlog::error("cannot read the declared exchanges: {}", restored.error().text());
    return 1;
  } else {
    spdlog::info("{}", *restored);
  }
  // The STOMP sessions, in their own layer above the listeners.
  session::Clients clients(broker);
  net::Server server(options.listen,
                     session::stomp_protocol({options.stomp, broker, clients, authenticator.get()}), shards);
  // MQTT (mqtt-listen, mqtt-tls-listen, mqtt-ws-listen, mqtt-wss-listen): a
  // server of its own over the same transports (TLS with the same files,
  // WebSocket with subprotocol "mqtt" at mqtt-ws-path), with the same
  // connection limits as the STOMP listeners; its sessions number their
  // connections in a range of their own (session::MqttSession::kIdBit).
  net::ListenerOptions mqtt_listener = options.listen;
  mqtt_listener.host = options.mqtt_listen.host;  // empty: no plain MQTT listener
  mqtt_listener.port = options.mqtt_listen.port;
  mqtt_listener.tls_listen = options.mqtt_tls_listen;
  mqtt_listener.ws_listen = options.mqtt_ws_listen;
  mqtt_listener.wss_listen = options.mqtt_wss_listen;
  mqtt_listener.ws_path = options.mqtt_ws_path;
  mqtt_listener.ws_protocols = {"mqtt"};
  mqtt_listener.option_prefix = "mqtt-";
  const bool mqtt_enabled = options.mqtt_listen.enabled() || options.mqtt_tls_listen.enabled() ||
                            options.mqtt_ws_listen.enabled() || options.mqtt_wss_listen.enabled();
  std::unique_ptr<net::Server> mqtt_server;
  // MQTT retained messages, kept in <data-dir>/mqtt-retained.
  std::unique_ptr<session::MqttRetained> mqtt_retained;
  // MQTT 5 wills waiting out their will delay (published from shard 0's tick).
  std::unique_ptr<session::MqttWills> mqtt_wills;
  // The open QoS 2 flows of persistent sessions, kept between their
  // connections and across restarts in <data-dir>/mqtt-qos2.
  session::MqttQos2Ids mqtt_qos2_ids(mqtt_enabled ? options.data_dir : std::string());
  if (mqtt_enabled) {
    mqtt_retained = std::make_unique<session::MqttRetained>(
        options.data_dir, session::MqttRetained::Limits{options.mqtt_max_retained, options.mqtt_max_retained_bytes});
    if (auto loaded = mqtt_retained->load(); !loaded) {
      spdlog::error("cannot read the MQTT retained messages: {}", loaded.error().text());
      return 1;
    } else {
      spdlog::info("{}", *loaded);
    }
    if (auto loaded = mqtt_qos2_ids.load(); !loaded) {
      spdlog::error("cannot read the MQTT QoS 2 flows: {}", loaded.error().text());
      return 1;
    } else {
      spdlog::info("{}", *loaded);
    }
    // MQTT wills: those waiting out their delay, and those of live
    // connections, kept in <data-dir>/mqtt-wills; a restart publishes them.
    mqtt_wills = std::make_unique<session::MqttWills>(broker, mqtt_retained.get(), options.data_dir);
    if (auto loaded = mqtt_wills->load(); !loaded) {
      spdlog::error("cannot read the MQTT wills: {}", loaded.error().text());
      return 1;
    } else {
      spdlog::info("{}", *loaded);
    }
    mqtt_server = std::make_unique<net::Server>(
        mqtt_listener,
        session::mqtt_protocol({broker, clients, authenticator.get(), options.stomp.limits.max_frame_size,
                                options.stomp.max_subscriptions, mqtt_retained.get(), mqtt_wills.get(),
                                &mqtt_qos2_ids}),
        shards);
    // MQTT also on the STOMP WebSocket listeners, at mqtt-ws-path
    // (ws://HOST:PORT/mqtt, subprotocol mqtt), as ActiveMQ serves both on one
    // port; ws-path stays STOMP's.
    if ((options.listen.ws_listen.enabled() || options.listen.wss_listen.enabled()) &&
        options.mqtt_ws_path != options.listen.ws_path) {
      server.add_ws_route({options.mqtt_ws_path, {"mqtt"},
                           session::mqtt_protocol({broker, clients, authenticator.get(),
                                                   options.stomp.limits.max_frame_size,
                                                   options.stomp.max_subscriptions, mqtt_retained.get(),
                                                   mqtt_wills.get(), &mqtt_qos2_ids,
                                                   session::MqttSession::kStompWsBit})});
    }
  }
  // Handle signals before announcing the listener: a supervisor may stop us
  // the moment it sees "listening on".
  boost::asio::signal_set signals(shards.io(ShardId(0)), SIGINT, SIGTERM, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          reload_configuration(reload, effective);
          signals.async_wait(on_signal);
          return;
        }
        spdlog::info("signal {} received: shutting down", sig);
        notify_systemd("STOPPING=1");
        shards.stop();
      };
  signals.async_wait(on_signal);
  if (Status started = server.start(); !started) {
    spdlog::error("cannot start the listeners: {}", started.error().text());
    return 1;
  }
  auto listening = server.listening();
  std::vector<std::string> mqtt_lines;
  std::vector<net::Server::Listening> mqtt_listening;
  if (mqtt_server) {
    if (Status started = mqtt_server->start(); !started) {
      spdlog::error("cannot start the MQTT listeners: {}", started.error().text());
      server.stop();
      return 1;
    }
    // "HOST:PORT (MQTT)", "(MQTT/TLS)", "(MQTT/WebSocket)", "(MQTT/WebSocket+TLS)".
    static constexpr const char* kMqttKind[] = {"MQTT", "MQTT/TLS", "MQTT/WebSocket", "MQTT/WebSocket+TLS"};
    mqtt_listening = mqtt_server->listening();
    for (const auto& l : mqtt_listening) {
      std::string address = net::Server::describe(l);
      address.erase(address.find(' '));
      mqtt_lines.push_back(fmt::format("listening on {} ({})", address, kMqttKind[static_cast<int>(l.kind)]));
    }
  }

  // The management API on shard 0's loop (it gathers from the shards by tasks).
  http::ApiContext api{broker, shards, server, journal.get(), options.broker, options.data_dir, mono_ms(),
                       {}, authenticator.get(), &declared};
  api.mqtt = mqtt_server.get();
  api.mqtt_id_bit = session::MqttSession::kIdBit;
  api.mqtt_stomp_ws_bit = session::MqttSession::kStompWsBit;
  for (const auto& l : listening) {
    static constexpr const char* kProtocol[] = {"stomp", "stomp+ssl", "ws", "wss"};
    std::string address = net::Server::describe(l);
    address.erase(address.find(' '));  // "HOST:PORT (KIND)" -> "HOST:PORT"
    api.listeners.push_back({kProtocol[static_cast<int>(l.kind)], std::move(address)});
  }
  for (const auto& l : mqtt_listening) {
    // RabbitMQ's names for its MQTT and Web MQTT listeners.
    static constexpr const char* kProtocol[] = {"mqtt", "mqtt/ssl", "http/web-mqtt", "https/web-mqtt"};
    std::string address = net::Server::describe(l);
    address.erase(address.find(' '));
    api.listeners.push_back({kProtocol[static_cast<int>(l.kind)], std::move(address)});
  }
  http::Router router;
  http::add_all_routes(router, api);
  http::Authenticator http_auth(authenticator.get());
  http::Server http_server(options.http, shards.io(ShardId(0)), router, http_auth);
  std::string http_line;
  if (early_http) {
    http_server.start(http_endpoint.protocol(), early_http->hand_over());
    early_http.reset();
    std::string hhost = http_endpoint.address().to_string();
    if (http_endpoint.address().is_v6()) hhost = "[" + hhost + "]";
    api.listeners.push_back({"http", fmt::format("{}:{}", hhost, http_endpoint.port())});
    http_line = fmt::format("listening on {}:{} (HTTP)", hhost, http_endpoint.port());
  }
  std::string https_line;
  if (https_tls) {
    const auto& h = options.http.https_listen;
    auto bound = http_server.start_tls(h.host, h.port, https_tls->context());
    if (!bound) {
      spdlog::error("cannot listen on {}:{} (HTTPS, https-listen): {}", h.host, h.port, bound.error().text());
      http_server.stop();
      server.stop();
      if (mqtt_server) mqtt_server->stop();
      return 1;
    }
    const auto& sep = *bound;
    std::string shost = sep.address().to_string();
    if (sep.address().is_v6()) shost = "[" + shost + "]";
    api.listeners.push_back({"https", fmt::format("{}:{}", shost, sep.port())});
    https_line = fmt::format("listening on {}:{} (HTTPS)", shost, sep.port());
  }

  // The cluster (cluster-etcd): membership and the controller election on
  // a thread of their own; the API reads its view. Before
  // "listening on": a broker that cannot join says so and ends first.
  std::unique_ptr<cluster::ClusterService> cluster_service = make_cluster(options.cluster, api.listeners);
  if (options.cluster.enabled() && !cluster_service) {
    http_server.stop();
    server.stop();
    if (mqtt_server) mqtt_server->stop();
    return 1;
  }
  // Replication (cluster-listen): its port bound and published before the
  // member key is first written; streams go through replicated logs.
  std::unique_ptr<ReplicatedStreams> replicated_streams;
  if (cluster_service && options.cluster.replication_enabled) {
    replicated_streams = std::make_unique<ReplicatedStreams>(broker, *cluster_service);
    ReplicatedStreams* rs = replicated_streams.get();
    auto bound = cluster_service->enable_replication(
        [rs](const std::string& log, cluster::LogOffset o, const std::string& payload) { rs->apply(log, o, payload); });
    if (!bound) {
      spdlog::error("cannot listen on {}:{} (cluster-listen): {}", options.cluster.replication_host,
                    options.cluster.replication_port, bound.error().text());
      http_server.stop();
      server.stop();
      if (mqtt_server) mqtt_server->stop();
      return 1;
    }
    broker.set_stream_replication(rs);
    spdlog::info("cluster: replication on {} (replication factor {}, min-insync {})", *bound,
                 options.cluster.replication_factor, options.cluster.min_insync);
  } else if (options.cluster.replication_enabled) {
    spdlog::warn("cluster-listen is set without cluster-etcd: ignored");
  }
  if (cluster_service) {
    api.cluster = cluster_service.get();
    cluster_service->start();
  }

  // Every listener is bound and the management API serves: say so, in the
  // order scripts know (the other STOMP transports, STOMP over TCP, HTTP,
  // HTTPS). Nothing says "listening on" before all of them are up.
  spdlog::info("Ferry {}: {} shard(s), memory-limit {} bytes, max-connections {}", kVersion,
               options.broker.shards, options.broker.memory_limit, options.listen.max_connections);
  for (std::size_t i = 1; i < listening.size(); ++i)
    spdlog::info("listening on {}", net::Server::describe(listening[i]));
  for (const auto& line : mqtt_lines) spdlog::info("{}", line);
  spdlog::info("listening on {}", net::Server::describe(listening.front()));
  if (!http_line.empty()) spdlog::info("{}", http_line);
  if (!https_line.empty()) spdlog::info("{}", https_line);

  // Every listener is up: ready (recovery is done; a listener that failed
  // to bind has ended the process above, before this line).
  spdlog::info("ready");
  notify_systemd("READY=1\nSTATUS=accepting clients");

  shards.on_tick(100, [&](ShardId s) {
    const std::int64_t now = mono_ms();
    server.tick(s, now);
    if (mqtt_server) mqtt_server->tick(s, now);
    if (mqtt_wills) mqtt_wills->tick(s, now);
    mqtt_qos2_ids.tick(s, now);
    broker.tick(s, wall_ms());
  });

  shards.run();
  // Every loop has stopped and its thread joined: tear down on this thread.
  // Leave the cluster first (the lease is revoked: another broker takes
  // the controller at once).
  if (cluster_service) cluster_service->stop();
  http_server.stop();
  server.stop();
  if (mqtt_server) mqtt_server->stop();
  // Its thread posts login answers to the shards: stop it while they exist.
  authenticator.reset();
  // Everything accepted was handed to the journal; wait for it to be written.
  journal->close();
  spdlog::info("journal: {} fsyncs, {} bytes in {} segments", journal->fsync_count(), journal->disk_bytes(),
               journal->segment_count());
  spdlog::info("stopped");
  return 0;
}

}  // namespace ferry::app
