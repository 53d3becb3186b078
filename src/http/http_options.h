#pragma once

#include <cstdint>
#include <string>

namespace ferry::http {

// The management listener's settings (app/config: http-listen,
// http-max-connections). Other limits are fixed and documented in
// docs/management.md.
struct HttpOptions {
  bool enabled = true;             // http-listen = "" disables
  std::string host = "127.0.0.1";
  std::uint16_t port = 15672;
  std::uint32_t max_connections = 100;
  std::uint32_t max_header_bytes = 16 * 1024;   // request line + headers
  std::uint32_t max_body_bytes = 1024 * 1024;   // request body
  std::uint32_t idle_timeout_ms = 30000;        // reading a request / keep-alive
};

}  // namespace ferry::http
