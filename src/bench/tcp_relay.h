#pragma once

#include <iosfwd>

#include "bench/options.h"

namespace ferry::bench {

// Mode --tcp-relay: the latency floor of this machine for what a broker
// does in scenario D, with no broker. One thread sends --size byte messages
// at --rate msg/s (default 2,000) for --duration seconds over loopback TCP
// to a relay thread, which forwards each read to a third thread over a
// second connection; that one reads whole messages and records send-to-
// receive latency. Two hops and three thread wake-ups per message, as for a
// producer, a broker and a consumer, with nothing else done: a broker's
// p99 in D cannot be expected below this one's. Blocking sockets,
// TCP_NODELAY. Returns 0, or 2 when the sockets cannot be set up.
int run_tcp_relay(const Options& options, std::ostream& out, std::ostream& err);

}  // namespace ferry::bench
