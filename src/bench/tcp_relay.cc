#include "bench/tcp_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "bench/clock.h"
#include "bench/fd.h"
#include "bench/json_line.h"
#include "bench/latency_histogram.h"

namespace ferry::bench {
namespace {

constexpr double kDefaultRate = 2000;

// A connected loopback pair: `a` connects, `b` is what the listener accepted.
bool loopback_pair(int listener, const sockaddr_in& addr, int& a, int& b) {
  a = ::socket(AF_INET, SOCK_STREAM, 0);
  if (a < 0 || ::connect(a, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return false;
  b = ::accept(listener, nullptr, nullptr);
  if (b < 0) return false;
  const int one = 1;
  ::setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return true;
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Reads exactly n bytes; false at end of stream or on error.
bool read_exact(int fd, char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

}  // namespace

int run_tcp_relay(const Options& o, std::ostream& out, std::ostream& err) {
  Fd listener(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener.fd < 0 || ::bind(listener.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener.fd, 2) != 0 || ::getsockname(listener.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    err << "ferry bench: cannot listen on 127.0.0.1: " << std::strerror(errno) << "\n";
    return 2;
  }
  int fds[4] = {-1, -1, -1, -1};
  const bool ok = loopback_pair(listener.fd, addr, fds[0], fds[1]) && loopback_pair(listener.fd, addr, fds[2], fds[3]);
  Fd sender(fds[0]), relay_in(fds[1]), relay_out(fds[2]), receiver(fds[3]);
  if (!ok) {
    err << "ferry bench: cannot connect over loopback: " << std::strerror(errno) << "\n";
    return 2;
  }
  const std::size_t size = std::max<std::size_t>(o.size, sizeof(std::int64_t));
  const double rate = o.rate > 0 ? o.rate : kDefaultRate;

  std::thread relay([&] {
    std::vector<char> buf(64 * 1024);
    for (;;) {
      const ssize_t n = ::read(relay_in.fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || !write_all(relay_out.fd, buf.data(), static_cast<std::size_t>(n))) break;
    }
    ::shutdown(relay_out.fd, SHUT_WR);
  });
  LatencyHistogram hist;
  std::thread reader([&] {
    std::vector<char> msg(size);
    while (read_exact(receiver.fd, msg.data(), size)) {
      std::int64_t sent_at = 0;
      std::memcpy(&sent_at, msg.data(), sizeof sent_at);
      hist.record(now_ns() - sent_at);
    }
  });

  std::string block(size, 'x');
  const auto interval = static_cast<std::int64_t>(static_cast<double>(kNsPerSec) / rate);
  const std::int64_t start = now_ns();
  const std::int64_t stop = start + static_cast<std::int64_t>(o.duration_s * kNsPerSec);
  std::uint64_t sent = 0;
  bool failed = false;
  for (std::int64_t due = start; due < stop; due += interval) {
    // Sleep until the message is due (absolute time: no drift).
    timespec ts{static_cast<time_t>(due / kNsPerSec), static_cast<long>(due % kNsPerSec)};
    while (now_ns() < due && ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
    const std::int64_t now = now_ns();
    std::memcpy(block.data(), &now, sizeof now);
    if (!write_all(sender.fd, block.data(), block.size())) {
      failed = true;
      break;
    }
    ++sent;
  }
  ::shutdown(sender.fd, SHUT_WR);
  relay.join();
  reader.join();

  const auto us = [](std::int64_t ns) { return static_cast<double>(ns) / 1000.0; };
  const double p50 = us(hist.percentile(0.50)), p99 = us(hist.percentile(0.99)),
               p999 = us(hist.percentile(0.999)), max = us(hist.max());
  char line[200];
  std::snprintf(line, sizeof line,
                "ferry bench tcp-relay  %llu x %zu B at %.0f msg/s, sender -> relay thread -> receiver over loopback\n"
                "  latency us p50 %.0f  p99 %.0f  p99.9 %.0f  max %.0f\n",
                static_cast<unsigned long long>(hist.count()), size, rate, p50, p99, p999, max);
  out << line;
  JsonLine lat;
  lat.add("p50", p50).add("p99", p99).add("p999", p999).add("max", max);
  JsonLine j;
  j.add("mode", "tcp-relay")
      .add("label", o.label)
      .add("size", static_cast<std::uint64_t>(size))
      .add("rate", rate)
      .add("sent", sent)
      .add("received", hist.count())
      .add_raw("latency_us", lat.str());
  out << j.str() << std::endl;
  if (failed || hist.count() != sent) {
    err << "ferry bench: loopback relay incomplete (" << hist.count() << " of " << sent << " messages)\n";
    return 1;
  }
  return 0;
}

}  // namespace ferry::bench
