#include "bench/tcp_ceiling.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "bench/clock.h"
#include "bench/fd.h"
#include "bench/json_line.h"

namespace ferry::bench {

int run_tcp_ceiling(const Options& o, std::ostream& out, std::ostream& err) {
  Fd listener(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (listener.fd < 0 || ::bind(listener.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener.fd, 1) != 0 || ::getsockname(listener.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    err << "ferry bench: cannot listen on 127.0.0.1: " << std::strerror(errno) << "\n";
    return 2;
  }
  Fd sender(::socket(AF_INET, SOCK_STREAM, 0));
  if (sender.fd < 0 || ::connect(sender.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    err << "ferry bench: cannot connect over loopback: " << std::strerror(errno) << "\n";
    return 2;
  }
  Fd receiver(::accept(listener.fd, nullptr, nullptr));
  if (receiver.fd < 0) {
    err << "ferry bench: accept failed: " << std::strerror(errno) << "\n";
    return 2;
  }
  const int one = 1;
  ::setsockopt(sender.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  std::atomic<std::uint64_t> received{0};
  std::thread reader([&] {
    std::vector<char> buf(1 << 20);
    std::uint64_t total = 0;
    for (;;) {
      const ssize_t n = ::read(receiver.fd, buf.data(), buf.size());
      if (n > 0) {
        total += static_cast<std::uint64_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        break;
      }
    }
    received.store(total);
  });

  const std::string block(o.size, 'x');
  std::uint64_t writes = 0, sent = 0;
  const std::int64_t start = now_ns();
  const std::int64_t stop = start + static_cast<std::int64_t>(o.duration_s * kNsPerSec);
  bool failed = false;
  while (now_ns() < stop) {
    std::size_t off = 0;
    while (off < block.size()) {
      const ssize_t n = ::write(sender.fd, block.data() + off, block.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        failed = true;
        break;
      }
      off += static_cast<std::size_t>(n);
    }
    if (failed) break;
    sent += block.size();
    ++writes;
  }
  ::shutdown(sender.fd, SHUT_WR);
  reader.join();
  const double secs = static_cast<double>(now_ns() - start) / kNsPerSec;
  const std::uint64_t got = received.load();
  const double mb = secs > 0 ? static_cast<double>(got) / secs / 1e6 : 0;
  const double msgs = secs > 0 ? static_cast<double>(got) / static_cast<double>(o.size) / secs : 0;

  char line[160];
  std::snprintf(line, sizeof line, "ferry bench tcp-ceiling  %zu B writes for %.2f s over loopback: %.1f MB/s, %.0f writes/s\n",
                o.size, secs, mb, msgs);
  out << line;
  JsonLine j;
  j.add("mode", "tcp")
      .add("label", o.label)
      .add("size", static_cast<std::uint64_t>(o.size))
      .add("duration_s", secs)
      .add("bytes", got)
      .add("mb_per_s", mb)
      .add("msgs_per_s", msgs);
  out << j.str() << std::endl;
  if (failed || got != sent) {
    err << "ferry bench: loopback transfer incomplete (" << got << " of " << sent << " bytes)\n";
  }
  return 0;
}

}  // namespace ferry::bench
