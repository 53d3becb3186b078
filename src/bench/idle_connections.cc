#include "bench/idle_connections.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <ostream>
#include <thread>
#include <vector>

#include "bench/clock.h"
#include "bench/event_loop.h"
#include "bench/json_line.h"
#include "bench/periodic_timer.h"
#include "bench/server_address.h"
#include "bench/stomp_connection.h"
#include "bench/tls_client.h"

namespace ferry::bench {
namespace {

namespace asio = boost::asio;

// Handshakes in flight at once: enough to open 10,000 connections in a few
// seconds, few enough not to overflow the broker's accept backlog.
constexpr int kMaxConnecting = 200;

// What every idle connection reports to; touched only on the loop thread,
// except the atomics the main thread polls.
struct IdleTally {
  std::atomic<int> connected{0};
  std::atomic<int> failed{0};
  std::atomic<int> dropped{0};
  std::atomic<int> closed_by_us{0};
  std::uint64_t errors = 0;
  std::string first_error;
  int started = 0;
  int in_flight = 0;
};

class IdleConnection final : public StompConnection::Handler {
 public:
  IdleConnection(asio::io_context& io, const ConnectParams& p, IdleTally& tally, std::function<void()> next)
      : tally_(tally), next_(std::move(next)), conn_(io, p, *this) {}

  void start(const asio::ip::tcp::endpoint& ep) { conn_.start(ep); }
  StompConnection& conn() { return conn_; }

  void on_connected(StompConnection&) override {
    connected_ = true;
    tally_.connected.fetch_add(1);
    --tally_.in_flight;
    next_();
  }
  void on_frame(StompConnection&, const stomp::Frame& f) override {
    if (f.command != stomp::Command::kError) return;
    ++tally_.errors;
    if (tally_.first_error.empty()) tally_.first_error = std::string(f.get("message").value_or("ERROR"));
  }
  void on_closed(StompConnection&, const std::string& why) override {
    if (why.empty()) {
      tally_.closed_by_us.fetch_add(1);
      return;
    }
    if (tally_.first_error.empty()) tally_.first_error = why;
    if (connected_) {
      tally_.dropped.fetch_add(1);
    } else {
      tally_.failed.fetch_add(1);
      --tally_.in_flight;
      next_();
    }
  }

 private:
  IdleTally& tally_;
  std::function<void()> next_;
  StompConnection conn_;
  bool connected_ = false;
};

void raise_file_limit(int wanted, std::ostream& err) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  if (lim.rlim_cur != RLIM_INFINITY && static_cast<rlim_t>(wanted) + 64 > lim.rlim_cur) {
    err << "ferry bench: open-file limit is " << lim.rlim_cur << ", too low for " << wanted
        << " connections (raise `ulimit -n`); some will fail\n";
  }
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int run_idle(const Options& o, std::ostream& out, std::ostream& err) {
  const auto endpoint = resolve_server(o.server);
  if (!endpoint) {
    err << "ferry bench: " << endpoint.error().text() << "\n";
    return 2;
  }
  const int n = o.idle_connections;
  raise_file_limit(n, err);

  ConnectParams params;
  params.vhost = o.vhost;
  params.login = o.login;
  params.passcode = o.passcode;
  params.heart_beat_ms = o.heart_beat_ms;
  const auto tls = o.tls ? tls_client_context() : nullptr;
  params.tls = tls.get();
  params.read_buffer = 4 << 10;  // idle: heart-beats and the odd ERROR

  EventLoop loop;  // outlives the connections below
  IdleTally tally;
  std::vector<std::unique_ptr<IdleConnection>> conns;
  conns.reserve(static_cast<std::size_t>(n));
  std::function<void()> launch = [&] {
    while (tally.in_flight < kMaxConnecting && tally.started < n) {
      auto& c = conns[static_cast<std::size_t>(tally.started++)];
      ++tally.in_flight;
      c->start(*endpoint);
    }
  };
  for (int i = 0; i < n; ++i) conns.push_back(std::make_unique<IdleConnection>(loop.io(), params, tally, [&] { launch(); }));

  const double cpu_start = cpu_seconds();
  const std::int64_t t0 = now_ns();
  std::unique_ptr<PeriodicTimer> ticker;
  loop.post([&] {
    launch();
    const auto period = o.heart_beat_ms > 0
                            ? std::chrono::milliseconds(std::clamp(o.heart_beat_ms / 4, 10, 250))
                            : std::chrono::milliseconds(250);
    ticker = std::make_unique<PeriodicTimer>(loop.io(), period, [&](std::int64_t now) {
      for (auto& c : conns) c->conn().tick(now);
    });
    ticker->start();
  });

  // Every connection gets a verdict (connected or failed) within the
  // connect budget: a second per 500 connections, at least 30 s.
  const std::int64_t budget = std::max<std::int64_t>(30, n / 500) * kNsPerSec;
  while (tally.connected.load() + tally.failed.load() < n && now_ns() - t0 < budget) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const double connect_s = static_cast<double>(now_ns() - t0) / kNsPerSec;
  const int connected = tally.connected.load();
  err << "ferry bench: " << connected << " of " << n << " connections open after "
      << connect_s << " s; holding for " << o.hold_s << " s\n";

  const std::int64_t hold_end = now_ns() + static_cast<std::int64_t>(o.hold_s * kNsPerSec);
  while (now_ns() < hold_end) std::this_thread::sleep_for(std::chrono::milliseconds(20));

  // Read everything the loop owns on the loop, then close politely.
  std::atomic<bool> read{false};
  std::uint64_t heartbeats = 0, errors = 0;
  std::string first_error;
  int dropped = 0, failed = 0, open_at_end = 0;
  loop.post([&] {
    ticker->cancel();
    for (auto& c : conns) {
      heartbeats += c->conn().heartbeats_sent();
      if (c->conn().is_open()) ++open_at_end;
    }
    errors = tally.errors;
    first_error = tally.first_error;
    dropped = tally.dropped.load();
    // Connections still handshaking when the budget ran out count as failed.
    failed = n - connected;
    for (auto& c : conns) c->conn().disconnect();
    read.store(true);
  });
  while (!read.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const std::int64_t close_deadline = now_ns() + 5 * kNsPerSec;
  while (tally.closed_by_us.load() + tally.dropped.load() < tally.connected.load() && now_ns() < close_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const double cpu_used = cpu_seconds() - cpu_start;
  const double wall = static_cast<double>(now_ns() - t0) / kNsPerSec;
  loop.stop();

  out << "ferry bench idle  " << n << " connections to " << o.server << "  heart-beat " << o.heart_beat_ms
      << " ms  hold " << o.hold_s << " s\n";
  out << "  connected  " << connected << " in " << connect_s << " s   failed " << failed << "   dropped while held "
      << dropped << "   open at end " << open_at_end << "\n";
  out << "  heart-beats sent " << heartbeats << "   ERROR frames " << errors << "\n";
  if (!first_error.empty()) out << "  first error: " << first_error << "\n";
  JsonLine j;
  j.add("mode", "idle")
      .add("label", o.label)
      .add("connections", n)
      .add("connected", connected)
      .add("failed", failed)
      .add("dropped", dropped)
      .add("open_at_end", open_at_end)
      .add("connect_s", connect_s)
      .add("hold_s", o.hold_s)
      .add("heart_beat_ms", o.heart_beat_ms)
      .add("heartbeats_sent", heartbeats)
      .add("errors", errors)
      .add("first_error", first_error)
      .add("bench_cpu_pct", wall > 0 ? 100.0 * cpu_used / wall : 0.0);
  out << j.str() << std::endl;
  return connected > 0 ? 0 : 2;
}

}  // namespace ferry::bench
