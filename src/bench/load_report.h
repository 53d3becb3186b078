#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include "bench/options.h"

namespace ferry::bench {

// The outcome of a producer/consumer run, as printed: a few aligned lines
// for people, then one JSON line (the last line of stdout) for scripts. The
// JSON keys are a contract with bench/compare; docs/bench.md defines each.
struct LoadReport {
  std::uint64_t sent = 0;
  std::uint64_t confirmed = 0;     // RECEIPTs for SENDs (0 without --receipt-window)
  std::uint64_t received = 0;      // valid deliveries, duplicates included
  std::uint64_t expected = 0;      // sent, or sent x consumers for a topic
  std::uint64_t lost = 0;          // expected - distinct deliveries
  std::uint64_t duplicates = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t corrupt = 0;
  std::uint64_t foreign = 0;       // bodies of an earlier run on the same destination
  std::uint64_t errors = 0;        // ERROR frames
  std::uint64_t connections_lost = 0;
  std::uint64_t stalls = 0;
  double duration_s = 0;           // first to last SEND
  double receive_window_s = 0;     // start of sending to the last delivery
  double send_rate = 0;            // msgs/s
  double recv_rate = 0;            // deliveries/s
  double mb_per_s = 0;             // delivered body bytes, 10^6 bytes/s
  double latency_p50_us = 0, latency_p99_us = 0, latency_p999_us = 0, latency_max_us = 0;
  double cpu_percent = 0;          // this process, user+system, over the run (100 = one core)
  std::string first_error;
  std::string server;              // the broker's `server` header, if any
  std::string version;             // negotiated STOMP version
};

void print_human(std::ostream& out, const Options& o, const LoadReport& r);
std::string to_json(const Options& o, const LoadReport& r);

}  // namespace ferry::bench
