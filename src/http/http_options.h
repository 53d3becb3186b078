#pragma once

#include <cstdint>
#include <string>

#include "net/listener_options.h"

namespace ferry::http {

// The management listener's settings (app/config: http-listen,
// https-listen, http-max-connections, http-max-connections-per-address,
// http-header-timeout, http-body-timeout). Other limits are fixed and documented in
// docs/management.md.
struct HttpOptions {
  bool enabled = true;             // http-listen = "" disables
  std::string host = "127.0.0.1";
  std::uint16_t port = 15672;
  std::uint32_t max_connections = 100;
  std::uint32_t max_header_bytes = 16 * 1024;   // request line + headers
  std::uint32_t max_body_bytes = 1024 * 1024;   // request body
  std::uint32_t idle_timeout_ms = 30000;        // writing a response
  // Slow clients (issue 18.7): a request's line and headers must arrive
  // within header_timeout_ms of the server starting to wait for them (this
  // is also the keep-alive idle limit and the TLS handshake's), its body
  // within body_timeout_ms after the headers; and one address may hold at
  // most max_connections_per_address connections (0 = no limit).
  std::uint32_t header_timeout_ms = 10000;
  std::uint32_t body_timeout_ms = 30000;
  std::uint32_t max_connections_per_address = 20;
  net::ListenAddress https_listen;  // the same API over TLS (https-listen; the tls-* files)
};

}  // namespace ferry::http
