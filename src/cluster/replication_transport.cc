#include "cluster/replication_transport.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <charconv>
#include <vector>

namespace ferry::cluster {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::optional<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  const char* first = address.data() + colon + 1;
  const char* last = address.data() + address.size();
  auto [p, ec] = std::from_chars(first, last, port);
  if (ec != std::errc() || p != last || first == last || port > 65535 || host.empty()) return std::nullopt;
  return std::make_pair(host, static_cast<std::uint16_t>(port));
}

// This broker's connection to one peer: what it sends, never what it reads.
struct ReplicationTransport::Peer {
  explicit Peer(asio::io_context& io, std::string n) : name(std::move(n)), socket(io), resolver(io), retry(io) {}
  std::string name;
  std::string address;  // the one connected (or being connected) to
  tcp::socket socket;
  tcp::resolver resolver;
  asio::steady_timer retry;
  bool connected = false;
  bool connecting = false;
  bool backing_off = false;
  bool writing = false;
  std::uint64_t generation = 0;  // raised by every failure: handlers of an older connection do nothing
  std::string queued;   // frames not yet handed to the socket
  std::string writing_buf;
};

// A connection a peer opened to this broker: frames come in, none go out.
struct ReplicationTransport::Inbound {
  explicit Inbound(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
  std::vector<char> buffer;  // unconsumed bytes
  std::size_t used = 0;
};

ReplicationTransport::ReplicationTransport(Receive on_message) : on_message_(std::move(on_message)), acceptor_(io_) {}

ReplicationTransport::~ReplicationTransport() { stop(); }

Result<std::string> ReplicationTransport::listen(const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return failure("bad cluster-listen address", host + ": " + ec.message());
  tcp::endpoint ep(address, port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor_.close();
    return failure("cannot listen", host + ":" + std::to_string(port) + ": " + ec.message());
  }
  tcp::endpoint bound = acceptor_.local_endpoint();
  std::string h = bound.address().to_string();
  if (bound.address().is_v6()) h = "[" + h + "]";
  return h + ":" + std::to_string(bound.port());
}

void ReplicationTransport::start() {
  if (thread_.joinable()) return;
  if (acceptor_.is_open()) accept();
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
}

void ReplicationTransport::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (thread_.joinable()) {
    asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      for (auto& [name, p] : peers_) {
        p->socket.close(ec);
        p->resolver.cancel();
        p->retry.cancel();
      }
      for (auto& [raw, weak] : inbound_) {
        if (auto c = weak.lock()) c->socket.close(ec);
      }
      io_.stop();
    });
    thread_.join();
  }
  peers_.clear();
  inbound_.clear();
}

void ReplicationTransport::set_peers(const std::map<std::string, std::string>& addresses) {
  std::lock_guard lock(addresses_mutex_);
  addresses_ = addresses;
}

void ReplicationTransport::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      spdlog::warn("cluster-listen: accept: {}", ec.message());
    } else {
      boost::system::error_code ignored;
      s.set_option(tcp::no_delay(true), ignored);
      auto c = std::make_shared<Inbound>(std::move(s));
      inbound_[c.get()] = c;
      read(c);
    }
    accept();
  });
}

void ReplicationTransport::read(const std::shared_ptr<Inbound>& c) {
  if (c->buffer.size() - c->used < 64 * 1024) c->buffer.resize(c->used + 64 * 1024);
  c->socket.async_read_some(
      asio::buffer(c->buffer.data() + c->used, c->buffer.size() - c->used),
      [this, c](boost::system::error_code ec, std::size_t n) {
        if (ec) {
          inbound_.erase(c.get());
          return;
        }
        c->used += n;
        std::size_t start = 0;
        for (;;) {
          DecodeResult r = decode(std::span<const char>(c->buffer.data() + start, c->used - start));
          if (r.status == DecodeResult::Status::kNeedMore) break;
          if (r.status == DecodeResult::Status::kError) {
            // A peer that sends a bad frame is not talked to further.
            boost::system::error_code ignored;
            spdlog::warn("cluster-listen: closing a connection from {}: {}",
                         c->socket.remote_endpoint(ignored).address().to_string(), r.error);
            c->socket.close(ignored);
            inbound_.erase(c.get());
            return;
          }
          start += r.consumed;
          on_message_(std::move(r.message));
        }
        // Keep the unconsumed tail at the front; a large frame grows the buffer.
        if (start > 0) {
          std::copy(c->buffer.begin() + static_cast<std::ptrdiff_t>(start),
                    c->buffer.begin() + static_cast<std::ptrdiff_t>(c->used), c->buffer.begin());
          c->used -= start;
        }
        read(c);
      });
}

void ReplicationTransport::send(const std::string& to, const WireMessage& m) {
  if (stopped_) return;
  std::string address;
  {
    std::lock_guard lock(addresses_mutex_);
    auto it = addresses_.find(to);
    if (it != addresses_.end()) address = it->second;
  }
  if (address.empty()) return;  // not known yet: dropped, the fetch is asked again
  std::shared_ptr<Peer>& p = peers_[to];
  if (!p) p = std::make_shared<Peer>(io_, to);
  if (p->address != address && (p->connected || p->connecting)) fail(p);  // it moved
  p->address = address;
  if (p->queued.size() > kMaxQueuedBytes) return;
  encode(m, p->queued);
  if (p->connected) {
    flush(p);
  } else if (!p->connecting && !p->backing_off) {
    connect(p);
  }
}

void ReplicationTransport::connect(const std::shared_ptr<Peer>& p) {
  auto hp = split_host_port(p->address);
  if (!hp) {
    p->queued.clear();
    return;
  }
  p->connecting = true;
  const std::uint64_t gen = p->generation;
  p->resolver.async_resolve(
      hp->first, std::to_string(hp->second),
      [this, p, gen](boost::system::error_code ec, tcp::resolver::results_type results) {
        if (gen != p->generation) return;
        if (ec) return fail(p);
        asio::async_connect(p->socket, results, [this, p, gen](boost::system::error_code ec, const tcp::endpoint&) {
          if (gen != p->generation) return;
          p->connecting = false;
          if (ec) return fail(p);
          boost::system::error_code ignored;
          p->socket.set_option(tcp::no_delay(true), ignored);
          p->connected = true;
          flush(p);
        });
      });
}

void ReplicationTransport::flush(const std::shared_ptr<Peer>& p) {
  if (p->writing || p->queued.empty() || !p->connected) return;
  p->writing = true;
  p->writing_buf.clear();
  p->writing_buf.swap(p->queued);
  const std::uint64_t gen = p->generation;
  asio::async_write(p->socket, asio::buffer(p->writing_buf), [this, p, gen](boost::system::error_code ec, std::size_t) {
    if (gen != p->generation) return;
    p->writing = false;
    if (ec) return fail(p);
    flush(p);
  });
}

void ReplicationTransport::fail(const std::shared_ptr<Peer>& p) {
  // Whatever was queued is dropped (the replicas ask again); the next
  // message reconnects, after a pause so a dead peer is not hammered.
  ++p->generation;
  boost::system::error_code ignored;
  p->socket.close(ignored);
  p->resolver.cancel();
  p->socket = tcp::socket(io_);
  p->connected = false;
  p->connecting = false;
  p->writing = false;
  p->queued.clear();
  if (stopped_ || p->backing_off) return;
  p->backing_off = true;
  p->retry.expires_after(std::chrono::milliseconds(100));
  p->retry.async_wait([p](boost::system::error_code) { p->backing_off = false; });
}

}  // namespace ferry::cluster
