#include "bench/load_report.h"

#include <cstdio>
#include <ostream>

#include "bench/json_line.h"

namespace ferry::bench {
namespace {

std::string fmt(const char* f, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, a);
  return buf;
}

}  // namespace

void print_human(std::ostream& out, const Options& o, const LoadReport& r) {
  out << "ferry bench  " << (o.label.empty() ? "" : "[" + o.label + "]  ") << o.destination << "  " << o.producers << " producer(s) -> " << o.consumers
      << " consumer(s)  " << o.size << " B  " << (o.persistent ? "persistent" : "non-persistent")
      << "  ack " << to_string(o.ack);
  if (o.receipt_window > 0) out << "  receipt-window " << o.receipt_window;
  if (o.prefetch > 0) out << "  prefetch " << o.prefetch;
  if (o.rate > 0) out << "  rate " << o.rate << "/s";
  if (!r.server.empty()) out << "  [" << r.server << ", STOMP " << r.version << "]";
  out << "\n";
  out << "  sent       " << r.sent << " msgs in " << fmt("%.2f", r.duration_s) << " s  ("
      << fmt("%.0f", r.send_rate) << " msg/s)";
  if (o.receipt_window > 0) out << "  confirmed " << r.confirmed;
  out << "\n";
  out << "  received   " << r.received << " of " << r.expected << " expected in "
      << fmt("%.2f", r.receive_window_s) << " s  (" << fmt("%.0f", r.recv_rate) << " msg/s, "
      << fmt("%.1f", r.mb_per_s) << " MB/s)\n";
  out << "  problems   lost " << r.lost << "  duplicates " << r.duplicates << "  out-of-order "
      << r.out_of_order << "  corrupt " << r.corrupt << "  errors " << r.errors << "  stalls "
      << r.stalls;
  if (r.foreign > 0) out << "  foreign " << r.foreign;
  if (r.connections_lost > 0) out << "  connections lost " << r.connections_lost;
  out << "\n";
  out << "  latency us p50 " << fmt("%.0f", r.latency_p50_us) << "  p99 " << fmt("%.0f", r.latency_p99_us)
      << "  p99.9 " << fmt("%.0f", r.latency_p999_us) << "  max " << fmt("%.0f", r.latency_max_us) << "\n";
  out << "  bench cpu  " << fmt("%.0f", r.cpu_percent) << "% of one core\n";
  if (!r.first_error.empty()) out << "  first error: " << r.first_error << "\n";
}

std::string to_json(const Options& o, const LoadReport& r) {
  JsonLine lat;
  lat.add("p50", r.latency_p50_us)
      .add("p99", r.latency_p99_us)
      .add("p999", r.latency_p999_us)
      .add("max", r.latency_max_us);
  JsonLine j;
  j.add("label", o.label)
      .add("destination", o.destination)
      .add("producers", o.producers)
      .add("consumers", o.consumers)
      .add("size", static_cast<std::uint64_t>(o.size))
      .add("persistent", o.persistent)
      .add("receipt_window", o.receipt_window)
      .add("ack", to_string(o.ack))
      .add("prefetch", o.prefetch)
      .add("rate", o.rate)
      .add("duration_s", r.duration_s)
      .add("sent", r.sent)
      .add("confirmed", r.confirmed)
      .add("received", r.received)
      .add("expected", r.expected)
      .add("lost", r.lost)
      .add("duplicates", r.duplicates)
      .add("corrupt", r.corrupt)
      .add("errors", r.errors)
      .add("stalls", r.stalls)
      .add("send_rate", r.send_rate)
      .add("recv_rate", r.recv_rate)
      .add("mb_per_s", r.mb_per_s)
      .add_raw("latency_us", lat.str())
      // Beyond the contract: extra detail, safe for readers to ignore.
      .add("out_of_order", r.out_of_order)
      .add("foreign", r.foreign)
      .add("connections_lost", r.connections_lost)
      .add("receive_window_s", r.receive_window_s)
      .add("count", o.count)
      .add("bench_cpu_pct", r.cpu_percent)
      .add("server", r.server)
      .add("stomp_version", r.version)
      .add("first_error", r.first_error);
  return j.str();
}

}  // namespace ferry::bench
