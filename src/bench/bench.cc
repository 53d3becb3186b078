#include "bench/bench.h"

#include "bench/idle_connections.h"
#include "bench/load_run.h"
#include "bench/tcp_ceiling.h"
#include "bench/tcp_relay.h"

namespace ferry::bench {

int run(const Options& options, std::ostream& out, std::ostream& err) {
  switch (options.mode()) {
    case Mode::kTcpCeiling: return run_tcp_ceiling(options, out, err);
    case Mode::kTcpRelay: return run_tcp_relay(options, out, err);
    case Mode::kIdle: return run_idle(options, out, err);
    case Mode::kLoad: return run_load(options, out, err);
  }
  return 2;
}

}  // namespace ferry::bench
