#include "bench/load_run.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <random>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bench/clock.h"
#include "bench/consumer.h"
#include "bench/event_loop.h"
#include "bench/load_report.h"
#include "bench/periodic_timer.h"
#include "bench/producer.h"
#include "bench/receive_tally.h"
#include "bench/run_state.h"
#include "bench/server_address.h"
#include "bench/stall_detector.h"
#include "bench/tls_client.h"
#include "stomp/version.h"

namespace ferry::bench {
namespace {

constexpr std::int64_t kSetupTimeoutNs = 10 * kNsPerSec;
constexpr std::int64_t kCloseTimeoutNs = 2 * kNsPerSec;
constexpr auto kPoll = std::chrono::milliseconds(5);
constexpr auto kHeartBeatTick = std::chrono::milliseconds(250);

// Waits on the main thread until `done()` or `deadline_ns`; true if done.
bool wait_until(const std::function<bool()>& done, std::int64_t deadline_ns) {
  while (!done()) {
    if (now_ns() >= deadline_ns) return false;
    std::this_thread::sleep_for(kPoll);
  }
  return true;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Runs `fn` on `loop` and waits for it (bounded); for reading loop-owned state.
template <typename F>
void run_on(EventLoop& loop, F&& fn) {
  std::atomic<bool> done{false};
  loop.post([&] {
    fn();
    done.store(true);
  });
  wait_until([&] { return done.load(); }, now_ns() + kCloseTimeoutNs);
}

}  // namespace

int run_load(const Options& o, std::ostream& out, std::ostream& err) {
  const auto endpoint = resolve_server(o.server);
  if (!endpoint) {
    err << "ferry bench: " << endpoint.error().text() << "\n";
    return 2;
  }

  const auto run_id = static_cast<std::uint32_t>(std::random_device{}());
  const Payload payload(run_id, o.size);
  RunState run(o.producers);

  ConnectParams params;
  params.vhost = o.vhost;
  params.login = o.login;
  params.passcode = o.passcode;
  params.heart_beat_ms = o.heart_beat_ms;
  const auto tls = o.tls ? tls_client_context() : nullptr;
  params.tls = tls.get();
  params.max_frame = std::max<std::size_t>(16u << 20, o.size + (1u << 20));
  ConnectParams producer_params = params;
  producer_params.read_buffer = 16 << 10;  // producers read only RECEIPTs

  // Loops first: they must outlive the sockets of everything below.
  EventLoop consumer_loop;
  EventLoop producer_loop;
  ReceiveTally tally(o, payload, run);
  std::vector<std::unique_ptr<Consumer>> consumers;
  std::vector<std::unique_ptr<Producer>> producers;
  std::unique_ptr<StallDetector> stalls;
  std::unique_ptr<PeriodicTimer> consumer_ticker, producer_ticker;
  std::atomic<int> consumers_closed{0};

  auto shutdown = [&] {
    consumer_loop.stop();
    producer_loop.stop();
  };

  // 1. Consumers subscribe; producers start only once every SUBSCRIBE is
  //    confirmed, so topic fan-out counts are exact.
  for (int i = 0; i < o.consumers; ++i) {
    consumers.push_back(std::make_unique<Consumer>(consumer_loop.io(), o, params, i, tally, run));
  }
  // At most kSubscribing logins at a time: a broker bounds the logins
  // waiting to be checked (Ferry answers "server busy" past 1,000), and
  // thousands of subscribers (the fairness scenario) would all ask at once.
  constexpr int kSubscribing = 200;
  for (int first = 0; first < o.consumers; first += kSubscribing) {
    const int last = std::min(o.consumers, first + kSubscribing);
    consumer_loop.post([&, first, last] {
      for (int i = first; i < last; ++i) consumers[i]->start(*endpoint);
    });
    if (!wait_until([&] { return run.consumers_ready.load() >= last || run.setup_failures.load() > 0; },
                    now_ns() + kSetupTimeoutNs) ||
        run.setup_failures.load() > 0) {
      err << "ferry bench: consumers could not subscribe at " << o.server << ": "
          << (run.first_error().empty() ? "no RECEIPT for SUBSCRIBE within 10 s" : run.first_error()) << "\n";
      shutdown();
      return 2;
    }
  }

  // 2. Producers connect.
  for (int i = 0; i < o.producers; ++i) {
    producers.push_back(std::make_unique<Producer>(producer_loop.io(), o, producer_params, payload, i, run));
  }
  producer_loop.post([&] {
    for (auto& p : producers) p->start(*endpoint);
  });
  if (!wait_until([&] { return run.producers_ready.load() == o.producers || run.setup_failures.load() > 0; },
                  now_ns() + kSetupTimeoutNs) ||
      run.setup_failures.load() > 0) {
    err << "ferry bench: producers could not connect to " << o.server << ": "
        << (run.first_error().empty() ? "no CONNECTED within 10 s" : run.first_error()) << "\n";
    shutdown();
    return 2;
  }

  // 3. Go.
  const double cpu_start = cpu_seconds();
  const std::int64_t start_ns = now_ns();
  consumer_loop.post([&] {
    stalls = std::make_unique<StallDetector>(start_ns);
    for (auto& c : consumers) c->set_running(true);
    std::int64_t next_stall_tick = start_ns + kNsPerSec;
    consumer_ticker = std::make_unique<PeriodicTimer>(
        consumer_loop.io(), kHeartBeatTick, [&, next_stall_tick](std::int64_t now) mutable {
          for (auto& c : consumers) c->tick(now);
          if (now >= next_stall_tick) {
            next_stall_tick += kNsPerSec;
            const std::uint64_t expected = tally.expected_for(run.sent_total());
            const std::uint64_t distinct = tally.distinct();
            stalls->tick(now, tally.received(), expected > distinct ? expected - distinct : 0);
          }
        });
    consumer_ticker->start();
  });
  producer_loop.post([&] {
    for (auto& p : producers) p->begin(start_ns);
    producer_ticker = std::make_unique<PeriodicTimer>(producer_loop.io(), kHeartBeatTick,
                                                      [&](std::int64_t now) {
                                                        for (auto& p : producers) p->tick(now);
                                                      });
    producer_ticker->start();
  });

  // 4. Wait for the producers: the duration (plus the drain timeout for
  //    receipts and the closing handshake), or, with --count, as long as
  //    they make progress.
  const std::int64_t drain_ns = static_cast<std::int64_t>(o.drain_timeout_s * kNsPerSec);
  const std::int64_t hard_stop =
      o.count > 0 ? std::numeric_limits<std::int64_t>::max()
                  : start_ns + static_cast<std::int64_t>(o.duration_s * kNsPerSec) + drain_ns;
  std::uint64_t last_sent = 0;
  std::int64_t last_progress = start_ns;
  // A line a second on stderr while it runs (stdout keeps the summary and
  // the JSON line): elapsed time, messages sent and received, and the rates
  // over the last second.
  std::int64_t next_report = start_ns + kNsPerSec;
  std::uint64_t reported_sent = 0, reported_received = 0;
  auto report = [&](std::int64_t now) {
    if (o.quiet || now < next_report) return;
    const std::uint64_t sent = run.sent_total();
    const std::uint64_t received = run.distinct_received.load(std::memory_order_relaxed);
    err << fmt::format("ferry bench: {:>4} s  sent {:>10} ({:>8}/s)  received {:>10} ({:>8}/s)\n",
                       (now - start_ns) / kNsPerSec, sent, sent - reported_sent, received,
                       received - reported_received)
        << std::flush;
    reported_sent = sent;
    reported_received = received;
    next_report += kNsPerSec;
  };
  while (run.producers_finished.load() < o.producers) {
    const std::int64_t now = now_ns();
    report(now);
    const std::uint64_t sent = run.sent_total();
    if (sent != last_sent) {
      last_sent = sent;
      last_progress = now;
    }
    if (now >= hard_stop || now - last_progress >= drain_ns) {
      err << "ferry bench: producers did not finish in time (flow control or missing receipts); giving up on them\n";
      run_on(producer_loop, [&] {
        for (auto& p : producers) p->abandon();
      });
      break;
    }
    std::this_thread::sleep_for(kPoll);
  }
  const std::int64_t producers_done_ns = now_ns();

  // 5. Drain: consumers get up to --drain-timeout for what is still missing.
  const std::uint64_t sent_total = run.sent_total();
  const std::uint64_t expected = tally.expected_for(sent_total);
  wait_until([&] {
    report(now_ns());
    return run.distinct_received.load(std::memory_order_relaxed) >= expected ||
           run.consumers_closed.load() == o.consumers;
  }, producers_done_ns + drain_ns);

  // 6. Close consumers, then stop the loops; results are read after that.
  run_on(consumer_loop, [&] {
    if (consumer_ticker) consumer_ticker->cancel();
    for (auto& c : consumers) c->stop();
  });
  wait_until([&] {
    bool all = true;
    run_on(consumer_loop, [&] {
      for (auto& c : consumers) all = all && c->is_closed();
    });
    return all;
  }, now_ns() + kCloseTimeoutNs);
  const double cpu_used = cpu_seconds() - cpu_start;
  const std::int64_t end_ns = now_ns();
  shutdown();

  // 7. Report.
  LoadReport r;
  std::int64_t last_send = start_ns;
  for (const auto& p : producers) {
    r.sent += p->result().sent;
    r.confirmed += p->result().confirmed;
    last_send = std::max(last_send, p->result().last_send_ns);
  }
  r.expected = tally.expected_for(r.sent);
  r.received = tally.received();
  const std::uint64_t distinct = tally.distinct();
  r.lost = r.expected > distinct ? r.expected - distinct : 0;
  r.duplicates = tally.duplicates();
  r.out_of_order = tally.out_of_order();
  r.corrupt = tally.corrupt();
  r.foreign = tally.foreign();
  r.errors = run.error_frames.load();
  r.connections_lost = run.connections_lost.load();
  r.first_error = run.first_error();
  r.stalls = stalls ? stalls->count(std::max(last_send, tally.last_ns())) : 0;
  r.duration_s = static_cast<double>(last_send - start_ns) / kNsPerSec;
  r.receive_window_s = tally.last_ns() > start_ns ? static_cast<double>(tally.last_ns() - start_ns) / kNsPerSec : 0;
  r.send_rate = r.duration_s > 0 ? static_cast<double>(r.sent) / r.duration_s : 0;
  r.recv_rate = r.receive_window_s > 0 ? static_cast<double>(r.received) / r.receive_window_s : 0;
  r.mb_per_s = r.recv_rate * static_cast<double>(o.size) / 1e6;
  const LatencyHistogram& h = tally.latency();
  r.latency_p50_us = static_cast<double>(h.percentile(0.50)) / 1000.0;
  r.latency_p99_us = static_cast<double>(h.percentile(0.99)) / 1000.0;
  r.latency_p999_us = static_cast<double>(h.percentile(0.999)) / 1000.0;
  r.latency_max_us = static_cast<double>(h.max()) / 1000.0;
  const double wall = static_cast<double>(end_ns - start_ns) / kNsPerSec;
  r.cpu_percent = wall > 0 ? 100.0 * cpu_used / wall : 0;
  if (!consumers.empty()) {
    r.server = consumers.front()->server();
    r.version = std::string(stomp::to_string(consumers.front()->version()));
  }
  print_human(out, o, r);
  out << to_json(o, r) << std::endl;
  return 0;
}

}  // namespace ferry::bench
