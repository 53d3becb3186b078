#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/tls_options.h"

namespace ferry::net {

// HOST:PORT of an optional listener; an empty host = off.
struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
  bool enabled() const { return !host.empty(); }
};

// The client listeners and what every connection on them is bound by,
// whatever protocol it speaks (app/config fills it: listen, tls-listen,
// ws-listen, wss-listen, ws-path, the tls-* files, max-connections,
// max-write-buffer, heart-beat-grace, connect-timeout).
struct ListenerOptions {
  std::string host = "127.0.0.1";  // listen (STOMP over TCP); empty: none (an MQTT server with TLS only)
  std::uint16_t port = 61613;
  ListenAddress tls_listen;   // STOMP over TLS (stomp+ssl)
  ListenAddress ws_listen;    // STOMP over WebSocket (ws://)
  ListenAddress wss_listen;   // STOMP over WebSocket over TLS (wss://)
  std::string ws_path = "/ws";
  // WebSocket subprotocols served, preferred first; empty: STOMP's
  // (v12.stomp, v11.stomp, v10.stomp). The MQTT listeners serve "mqtt".
  std::vector<std::string> ws_protocols;
  // Put before the option names in errors ("mqtt-" for the MQTT listeners:
  // "mqtt-tls-listen HOST:PORT: bind: ...").
  std::string option_prefix;
  TlsOptions tls;             // for tls_listen, wss_listen (and the HTTPS listener)
  std::uint32_t max_connections = 10000;
  std::uint64_t max_write_buffer = 4u << 20;  // queued output before reads pause
  double heart_beat_grace = 2.0;              // silent for grace x the agreed interval: closed
  std::uint32_t connect_timeout_ms = 30000;   // 0 = none
};

}  // namespace ferry::net
