#pragma once

#include <cstdint>
#include <string>

#include "auth/auth_options.h"
#include "broker/destination.h"
#include "broker/options.h"
#include "net/tls_options.h"
#include "store/journal.h"
#include "stomp/limits.h"

namespace ferry::auth {
class Authenticator;
}

namespace ferry::net {

// HOST:PORT of an optional listener; an empty host = off.
struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
  bool enabled() const { return !host.empty(); }
};

// Everything the connection side needs; filled by app/config.
struct ServerOptions {
  std::string log_level = "info";
  std::string data_dir = "./data";
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 61613;
  ListenAddress tls_listen;   // STOMP over TLS (stomp+ssl)
  ListenAddress ws_listen;    // STOMP over WebSocket (ws://)
  ListenAddress wss_listen;   // STOMP over WebSocket over TLS (wss://)
  std::string ws_path = "/ws";
  TlsOptions tls;             // for tls_listen, wss_listen and https_listen
  stomp::Limits limits;
  std::uint32_t max_connections = 10000;
  std::uint32_t max_subscriptions = 1000;   // per connection
  std::uint32_t max_transactions = 100;     // open per connection
  std::uint32_t max_transaction_size = 10000;  // frames in one transaction
  std::uint64_t producer_window_size = 1u << 20;  // bytes in flight before reads pause
  std::uint64_t max_write_buffer = 4u << 20;      // queued output before reads pause
  std::uint32_t heart_beat_send_ms = 10000;  // server offers to send every ...
  std::uint32_t heart_beat_recv_ms = 10000;  // server wants to hear every ...
  // The shortest heart-beat interval agreed with a client in either
  // direction: a client asking for faster beats gets this (STOMP 1.2: the
  // agreed interval is the larger of what each side names).
  std::uint32_t heart_beat_min_ms = 500;
  double heart_beat_grace = 2.0;
  // STOMP dialects (docs/dialects.md).
  bool strict_subscription_id = false;  // SUBSCRIBE without id at 1.1/1.2: ERROR (true) or id = destination
  // What a destination without /queue/ or /topic/ (ActiveMQ's `ActiveMQ.DLQ`) names.
  broker::DestinationKind default_destination_kind = broker::DestinationKind::kQueue;
  std::string server_header = "Ferry/0.1.0";  // CONNECTED `server`
  std::uint32_t connect_timeout_ms = 30000;  // 0 = none
  // The management HTTP listener (http/; app/serve.cc hands these over).
  bool http_enabled = true;  // http-listen = "" disables it
  std::string http_host = "127.0.0.1";
  std::uint16_t http_port = 15672;
  std::uint32_t http_max_connections = 100;  // HTTP and HTTPS together
  std::uint32_t http_max_connections_per_address = 20;  // 0 = no limit
  std::uint32_t http_header_timeout_ms = 10000;
  std::uint32_t http_body_timeout_ms = 30000;
  ListenAddress https_listen;  // the management API over TLS (tls options)
  broker::BrokerOptions broker;
  auth::AuthOptions auth;
  // Set by `serve` before the listener starts; null: no authentication (every
  // client is let in, in vhost "/"; unit tests).
  auth::Authenticator* authenticator = nullptr;
  store::JournalOptions journal;  // journal.directory = <data-dir>/journal
};

}  // namespace ferry::net
