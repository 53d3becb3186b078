#pragma once

#include <iosfwd>

#include "bench/options.h"

namespace ferry::bench {

// Mode F (--tcp-ceiling): how fast this machine moves bytes over loopback
// TCP with no broker, as the ceiling any broker result is compared with. One
// thread writes --size byte blocks for --duration seconds to a listener on
// 127.0.0.1 (an ephemeral port), another reads them with large reads.
// Blocking sockets: the two threads do nothing else. Reports MB/s (10^6
// bytes) and writes/s. Returns 0, or 2 when the sockets cannot be set up.
int run_tcp_ceiling(const Options& options, std::ostream& out, std::ostream& err);

}  // namespace ferry::bench
