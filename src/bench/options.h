#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"

namespace CLI {
class App;
}

namespace ferry::bench {

// How consumers acknowledge: STOMP's three SUBSCRIBE ack modes.
enum class AckMode { kAuto, kClient, kClientIndividual };
std::string_view to_string(AckMode m);  // "auto", "client", "client-individual"

// Which job `ferry bench` does: a producer/consumer load run (the default),
// many idle connections (mode G), or the raw loopback TCP ceiling (mode F).
enum class Mode { kLoad, kIdle, kTcpCeiling, kTcpRelay };

// Everything `ferry bench` accepts on its command line. The option names are
// a contract: bench/compare scripts call the binary with exactly these.
struct Options {
  std::string server = "127.0.0.1:61613";
  std::string login;
  std::string passcode;
  std::string vhost = "/";
  bool tls = false;  // connect with TLS (the broker's tls-listen port)
  std::string destination;  // empty: /queue/ferry.bench.<random>, filled by validate()
  int producers = 1;
  int consumers = 1;
  std::size_t size = 1024;
  bool persistent = false;
  int receipt_window = 0;  // 0: no receipts on SEND
  AckMode ack = AckMode::kAuto;
  std::string ack_name = "auto";  // as typed; validate() sets `ack` from it
  int prefetch = 0;        // 0: say nothing, the broker's default applies
  double rate = 0;         // total msgs/s over all producers; 0 = unpaced
  double duration_s = 10;
  std::uint64_t count = 0; // messages per producer; overrides duration when > 0
  double drain_timeout_s = 10;
  std::string label;
  bool quiet = false;          // no per-second progress line on stderr
  int idle_connections = 0;
  int heart_beat_ms = 0;   // 0: CONNECT with heart-beat:0,0
  double hold_s = 10;
  bool tcp_ceiling = false;
  bool tcp_relay = false;

  Mode mode() const;
  bool is_topic() const { return destination.rfind("/topic/", 0) == 0; }
};

// Declares every option on `cmd` (the `bench` subcommand), writing into `o`.
void add_options(CLI::App& cmd, Options& o);

// Checks cross-option rules and fills defaults that depend on others.
// An Error (for the user: `ferry bench` exits 2 with it) when they are not usable.
Status validate(Options& o);

}  // namespace ferry::bench
