#include "app/serve.h"

#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include "auth/authenticator.h"
#include "broker/broker.h"
#include "broker/declared_queues.h"
#include "common/clock.h"
#include "http/api.h"
#include "http/authenticator.h"
#include "http/context.h"
#include "http/http_options.h"
#include "http/router.h"
#include "http/server.h"
#include "net/server.h"
#include "net/tls_context.h"
#include "shard/shard_set.h"
#include "store/journal.h"

namespace ferry::app {

namespace {

// The users file (or the built-in guest), checked against the options that
// name users and vhosts. nullptr (logged) if unusable.
std::unique_ptr<auth::Authenticator> make_authenticator(const auth::AuthOptions& o) {
  auth::UserStore users;
  try {
    users = o.users_file.empty() ? auth::UserStore::builtin() : auth::UserStore::load(o.users_file);
  } catch (const std::exception& e) {
    spdlog::error("cannot read the users file: {}", e.what());
    return nullptr;
  }
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

}  // namespace

int serve(const net::ServerOptions& configured) {
  if (configured.auth.ssl_cert_login && configured.tls.verify_client == net::TlsVerifyClient::kNone)
    spdlog::warn("ssl-cert-login is on but tls-verify-client is none: no client sends a certificate");
  std::unique_ptr<auth::Authenticator> authenticator = make_authenticator(configured.auth);
  if (!authenticator) return 1;
  net::ServerOptions options = configured;
  options.authenticator = authenticator.get();
  // The HTTPS listener's certificate, checked before anything starts. Its
  // own SSL_CTX (same files as the STOMP TLS listeners'); declared before
  // the loops so that it outlives every session.
  std::unique_ptr<net::TlsContext> https_tls;
  if (options.https_listen.enabled()) {
    std::string tls_error;
    https_tls = net::TlsContext::create(options.tls, tls_error);
    if (!https_tls) {
      spdlog::error("cannot start the HTTPS listener (https-listen): {}", tls_error);
      return 1;
    }
  }
  store::JournalOptions journal_options = options.journal;
  journal_options.directory = options.data_dir;
  std::string error;
  std::unique_ptr<store::Journal> journal = store::Journal::open(journal_options, error);
  if (!journal) {
    spdlog::error("cannot open the journal: {}", error);
    return 1;
  }
  shard::ShardSet shards(options.broker.shards);
  broker::Broker broker(options.broker, shards, journal.get());
  spdlog::info("recovering from {}", options.data_dir);
  spdlog::info("{}", broker.recover());
  // Queues created through the management API come back, empty or not.
  broker::DeclaredQueues declared(options.data_dir);
  if (std::string e = declared.load(); !e.empty()) {
    spdlog::error("cannot read the declared queues: {}", e);
    return 1;
  }
  for (const auto& [vhost, name] : declared.entries()) {
    broker::Destination d{broker::DestinationKind::kQueue, name, vhost};
    broker.local(broker.owner_of(d)).declare_queue(d, false);  // the loops do not run yet; never refused
  }
  net::Server server(options, shards, broker);
  // Handle signals before announcing the listener: a supervisor may stop us
  // the moment it sees "listening on".
  boost::asio::signal_set signals(shards.io(ShardId(0)), SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {} received: shutting down", sig);
    shards.stop();
  });
  try {
    server.start();
  } catch (const std::exception& e) {
    spdlog::error("cannot start the listeners: {}", e.what());
    return 1;
  }
  spdlog::info("Ferry 0.1.0: {} shard(s), memory-limit {} bytes, max-connections {}",
               options.broker.shards, options.broker.memory_limit, options.max_connections);
  // The other listeners first: a test harness that waits for the STOMP line
  // then knows every port.
  auto listening = server.listening();
  for (std::size_t i = 1; i < listening.size(); ++i)
    spdlog::info("listening on {}", net::Server::describe(listening[i]));
  spdlog::info("listening on {}", net::Server::describe(listening.front()));

  // The management API on shard 0's loop (it gathers from the shards by tasks).
  http::ApiContext api{broker, shards, server, journal.get(), options, mono_ms(), {}, authenticator.get(), &declared};
  for (const auto& l : listening) {
    static constexpr const char* kProtocol[] = {"stomp", "stomp+ssl", "ws", "wss"};
    std::string address = net::Server::describe(l);
    address.erase(address.find(' '));  // "HOST:PORT (KIND)" -> "HOST:PORT"
    api.listeners.push_back({kProtocol[static_cast<int>(l.kind)], std::move(address)});
  }
  http::HttpOptions http_options;
  http_options.host = options.http_host;
  http_options.port = options.http_port;
  http_options.max_connections = options.http_max_connections;
  http::Router router;
  http::add_all_routes(router, api);
  http::Authenticator http_auth(authenticator.get());
  http::Server http_server(http_options, shards.io(ShardId(0)), router, http_auth);
  if (options.http_enabled) {
    try {
      http_server.start();
    } catch (const std::exception& e) {
      spdlog::error("cannot listen on {}:{} (HTTP, http-listen): {}", options.http_host, options.http_port,
                    e.what());
      server.stop();
      return 1;
    }
    auto hep = http_server.local_endpoint();
    std::string hhost = hep.address().to_string();
    if (hep.address().is_v6()) hhost = "[" + hhost + "]";
    api.listeners.push_back({"http", fmt::format("{}:{}", hhost, hep.port())});
    spdlog::info("listening on {}:{} (HTTP)", hhost, hep.port());
  }
  if (https_tls) {
    const auto& h = options.https_listen;
    try {
      auto sep = http_server.start_tls(h.host, h.port, https_tls->context());
      std::string shost = sep.address().to_string();
      if (sep.address().is_v6()) shost = "[" + shost + "]";
      api.listeners.push_back({"https", fmt::format("{}:{}", shost, sep.port())});
      spdlog::info("listening on {}:{} (HTTPS)", shost, sep.port());
    } catch (const std::exception& e) {
      spdlog::error("cannot listen on {}:{} (HTTPS, https-listen): {}", h.host, h.port, e.what());
      http_server.stop();
      server.stop();
      return 1;
    }
  }

  shards.on_tick(100, [&](ShardId s) {
    const std::int64_t now = mono_ms();
    server.tick(s, now);
    broker.tick(s, wall_ms());
  });

  shards.run();
  // Every loop has stopped and its thread joined: tear down on this thread.
  http_server.stop();
  server.stop();
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
