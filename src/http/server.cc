#include "http/server.h"

#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "common/log.h"
#include "common/result.h"
#include "http/base64.h"
#include "net/open_acceptor.h"

namespace ferry::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;

struct Server::Shared {
  Shared(const HttpOptions& o, const Router& r, const Authenticator& a) : options(o), router(r), auth(a) {}
  const HttpOptions options;
  const Router& router;
  const Authenticator& auth;
  std::atomic<std::uint32_t> open{0};  // sessions may end on any thread at shutdown
  // Sessions whose handler has not answered yet. The handler's Reply holds
  // only a weak reference, so a task still queued on another shard when the
  // broker stops never owns a session (whose socket belongs to shard 0's
  // loop); Server::stop() releases these while that loop still exists.
  // Shard 0 only (stop(): after the loops have stopped).
  std::unordered_set<std::shared_ptr<Server::Session>> waiting;
  // Open connections per client address (http-max-connections-per-address).
  // Counted up on shard 0 at accept, down when a session ends, which at
  // shutdown may be on any thread: hence the lock (taken once per
  // connection, never inside another).
  std::mutex per_address_mutex;
  std::unordered_map<std::string, std::uint32_t> per_address;  // GUARDED_BY(per_address_mutex)

  // Takes a connection slot for `address`; false if it has its limit.
  bool take_address(const std::string& address) {
    if (options.max_connections_per_address == 0) return true;
    std::lock_guard lock(per_address_mutex);
    auto& n = per_address[address];
    if (n >= options.max_connections_per_address) {
      if (n == 0) per_address.erase(address);
      return false;
    }
    ++n;
    return true;
  }
  void release_address(const std::string& address) {
    if (options.max_connections_per_address == 0) return;
    std::lock_guard lock(per_address_mutex);
    auto it = per_address.find(address);
    if (it != per_address.end() && --it->second == 0) per_address.erase(it);
  }
};

namespace {

// The client's address as a string, IPv4-mapped IPv6 shown as IPv4.
std::string address_of(const tcp::socket& socket, bool* loopback = nullptr) {
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "";
  auto addr = ep.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
  if (loopback != nullptr) *loopback = addr.is_loopback();
  return addr.to_string();
}

Result<Request> to_request(const bhttp::request<bhttp::string_body>& req, const Peer& peer) {
  Request r;
  r.method = std::string(req.method_string().data(), req.method_string().size());
  std::string_view target(req.target().data(), req.target().size());
  std::string_view query;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    query = target.substr(q + 1);
    target = target.substr(0, q);
  }
  r.path = std::string(target);
  if (target.empty() || target.front() != '/') {
    return failure("request target must be an absolute path");
  }
  std::size_t start = 1;
  while (start <= target.size()) {
    auto slash = target.find('/', start);
    if (slash == std::string_view::npos) slash = target.size();
    auto seg = percent_decode(target.substr(start, slash - start));
    if (!seg) {
      return failure("bad percent-encoding in the path");
    }
    r.segments.push_back(std::move(*seg));
    start = slash + 1;
  }
  // "/api/queues/" is "/api/queues".
  if (r.segments.size() > 1 && r.segments.back().empty()) r.segments.pop_back();
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto k = percent_decode(pair.substr(0, eq), true);
    auto v = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (!k || !v) {
      return failure("bad percent-encoding in the query");
    }
    r.query.emplace(std::move(*k), std::move(*v));
  }
  r.body = req.body();
  r.peer = peer;
  return r;
}

// "Basic dXNlcjpwYXNz" -> user, pass.
bool basic_credentials(std::string_view header, std::string& user, std::string& pass) {
  constexpr std::string_view kBasic = "Basic ";
  if (header.size() <= kBasic.size()) return false;
  for (std::size_t i = 0; i < kBasic.size() - 1; ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) !=
        std::tolower(static_cast<unsigned char>(kBasic[i])))
      return false;
  if (header[kBasic.size() - 1] != ' ') return false;
  auto decoded = base64_decode(header.substr(kBasic.size()));
  if (!decoded) return false;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) return false;
  user = decoded->substr(0, colon);
  pass = decoded->substr(colon + 1);
  return true;
}

// What an operator changes through the API (declare, delete, purge, users,
// permissions, definitions, closing a connection) is logged with the user
// who did it. Reads are not, nor the message operations (publish, get):
// those are traffic, not administration.
bool is_admin_action(const Request& r) {
  if (r.method == "GET" || r.method == "HEAD" || r.method == "OPTIONS") return false;
  if (r.segments.empty() || r.segments[0] != "api") return false;
  const std::string& last = r.segments.back();
  return !(r.method == "POST" && (last == "publish" || last == "get"));
}

}  // namespace

// One HTTP connection, plain or over TLS (then the TLS stream wraps the
// TCP stream, which keeps the timeouts). Kept alive by its pending I/O and
// by a handler that has not answered yet; lives on the server's io_context.
class Server::Session : public std::enable_shared_from_this<Server::Session> {
 public:
  // `tls`: null for plain HTTP, else the HTTPS listener's context.
  // `address`: the client's, whose slot (Shared::take_address) this
  // session now holds and gives back when it ends.
  Session(tcp::socket socket, ssl::context* tls, std::shared_ptr<Shared> shared, std::string address)
      : shared_(std::move(shared)) {
    if (tls != nullptr) tls_.emplace(std::move(socket), *tls);
    else plain_.emplace(std::move(socket));
    ++shared_->open;
    peer_.address = std::move(address);
    address_of(transport().socket(), &peer_.loopback);
  }
  ~Session() {
    shared_->release_address(peer_.address);
    --shared_->open;
  }

  void start() {
    if (!tls_) {
      read();
      return;
    }
    // The handshake, like a request's headers, must be done within the
    // header timeout (a slow handshake holds a slot like a slow request).
    transport().expires_after(std::chrono::milliseconds(shared_->options.header_timeout_ms));
    tls_->async_handshake(ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
      if (ec) {
        // A plain HTTP request, no or an untrusted client certificate, a
        // port scan: nothing the broker's operator must act on.
        spdlog::debug("HTTPS connection from {}: TLS handshake failed: {}", self->peer_.address, ec.message());
        self->close();
        return;
      }
      self->read();
    });
  }

 private:
  // The byte stream under HTTP: plain TCP, or TLS over TCP.
  beast::tcp_stream& transport() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }
  template <typename F>
  void with_stream(F&& f) {
    if (tls_) f(*tls_);
    else f(*plain_);
  }

  void read() {
    parser_.emplace();
    parser_->header_limit(shared_->options.max_header_bytes);
    parser_->body_limit(shared_->options.max_body_bytes);
    // Two deadlines (issue 18.7: one deadline for the whole request let a
    // client sending a byte a second hold a slot for 30 s): the line and
    // headers within header_timeout_ms of waiting for them (the keep-alive
    // idle time included), then the body within body_timeout_ms. A
    // tcp_stream deadline covers every read until it is changed.
    transport().expires_after(std::chrono::milliseconds(shared_->options.header_timeout_ms));
    with_stream([this](auto& stream) {
      bhttp::async_read_header(stream, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec,
                                                                                       std::size_t) {
        self->on_header(ec);
      });
    });
  }

  void on_header(beast::error_code ec) {
    if (ec || parser_->is_done()) {
      on_read(ec);
      return;
    }
    transport().expires_after(std::chrono::milliseconds(shared_->options.body_timeout_ms));
    with_stream([this](auto& stream) {
      bhttp::async_read(stream, buffer_, *parser_,
                        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof || ec == ssl::error::stream_truncated) {
      close();
      return;
    }
    if (ec == bhttp::error::header_limit) {
      finish(error_response(431, "request_too_large",
                            "request line and headers exceed " +
                                std::to_string(shared_->options.max_header_bytes) + " bytes"),
             false);
      return;
    }
    if (ec == bhttp::error::body_limit) {
      finish(error_response(413, "request_too_large",
                            "request body exceeds " + std::to_string(shared_->options.max_body_bytes) +
                                " bytes"),
             false);
      return;
    }
    if (ec) {
      finish(error_response(400, "bad_request", "malformed HTTP request: " + ec.message()), false);
      return;
    }
    transport().expires_never();
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    head_ = req.method() == bhttp::verb::head;
    auto parsed = to_request(req, peer_);
    if (!parsed) {
      finish(error_response(400, "bad_request", parsed.error().text()), keep_alive_);
      return;
    }
    Request& r = *parsed;
    auto found = shared_->router.find(r.method, r.segments);
    if (found.match == Router::Match::kNoPath) {
      finish(error_response(404, "not_found", "no such resource: " + r.path), keep_alive_);
      return;
    }
    if (found.match == Router::Match::kWrongMethod) {
      Response res = error_response(405, "method_not_allowed",
                                    r.method + " is not allowed on " + r.path + " (allowed: " + found.allowed + ")");
      res.headers.emplace_back("Allow", found.allowed);
      finish(std::move(res), keep_alive_);
      return;
    }
    if (found.need != Role::kNone) {
      std::string user, pass;
      Role role = Role::kNone;
      auto auth = req.find(bhttp::field::authorization);
      if (auth != req.end() &&
          basic_credentials(std::string_view(auth->value().data(), auth->value().size()), user, pass))
        role = shared_->auth.check(user, pass, peer_);
      if (role == Role::kNone) {
        Response res = error_response(401, "not_authorised", "Login failed");
        res.headers.emplace_back("WWW-Authenticate", "Basic realm=\"Ferry Management\"");
        finish(std::move(res), keep_alive_);
        return;
      }
      if (role < found.need) {
        finish(error_response(403, "access_refused",
                              r.method + " " + r.path + " requires the " + std::string(tag_of(found.need)) +
                                  " tag (user '" + user + "' is " + std::string(tag_of(role)) + ")"),
               keep_alive_);
        return;
      }
      r.user = user;
      r.role = role;
      r.vhosts.only = shared_->auth.visible_vhosts(user);
      if (found.vhost_capture >= 0 && !r.vhosts.sees(found.captures[found.vhost_capture])) {
        finish(error_response(403, "access_refused",
                              "user '" + user + "' has no permissions on vhost '" +
                                  found.captures[found.vhost_capture] + "'"),
               keep_alive_);
        return;
      }
    }
    // The handler may answer later (after gathering from the shards); the
    // session stays alive in `waiting` until then.
    auto self = shared_from_this();
    shared_->waiting.insert(self);
    std::weak_ptr<Session> weak = self;
    std::string audit;  // an operator's action: logged with its user and its answer
    if (is_admin_action(r))
      audit = fmt::format("management: user '{}' ({}) {} {}", log_safe(r.user), peer_.address, r.method,
                          log_safe(r.path));
    (*found.handler)(r, found.captures, [weak, audit = std::move(audit)](Response res) {
      if (!audit.empty()) spdlog::info("{}: {}", audit, res.status);
      auto s = weak.lock();
      if (!s) return;  // the server stopped meanwhile
      s->shared_->waiting.erase(s);
      s->finish(std::move(res), s->keep_alive_);
    });
  }

  void finish(Response res, bool keep_alive) {
    res_.emplace();
    res_->version(11);
    res_->result(res.status);
    res_->set(bhttp::field::server, "Ferry");
    res_->set(bhttp::field::content_type, res.content_type);
    res_->set(bhttp::field::cache_control, "no-cache");
    for (auto& [k, v] : res.headers) res_->set(k, v);
    res_->keep_alive(keep_alive);
    const std::size_t length = res.body.size();
    if (!head_) res_->body() = std::move(res.body);
    res_->content_length(length);
    keep_alive_ = keep_alive;
    transport().expires_after(std::chrono::milliseconds(shared_->options.idle_timeout_ms));
    with_stream([this](auto& stream) {
      bhttp::async_write(stream, *res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        self->on_write(ec);
      });
    });
  }

  void on_write(beast::error_code ec) {
    if (ec) {
      close();
      return;
    }
    if (!keep_alive_) {
      linger();
      return;
    }
    res_.reset();
    read();
  }

  // After the last response: send FIN, then read and discard what the
  // client still sends (for at most kLingerMs) before closing. Closing with
  // unread input would reset the connection, and the client could lose the
  // response (a 413/431 sent before the request was read whole).
  // Over TLS, close_notify goes first (the peer's answer is awaited for at
  // most kLingerMs too; most clients just close).
  static constexpr int kLingerMs = 2000;
  void linger() {
    transport().expires_after(std::chrono::milliseconds(kLingerMs));
    if (tls_) {
      tls_->async_shutdown([self = shared_from_this()](beast::error_code) { self->linger_tcp(); });
      return;
    }
    linger_tcp();
  }
  void linger_tcp() {
    beast::error_code ec;
    transport().socket().shutdown(tcp::socket::shutdown_send, ec);
    transport().expires_after(std::chrono::milliseconds(kLingerMs));
    drain();
  }
  // Reads below TLS: after the last response the bytes are only discarded.
  void drain() {
    transport().async_read_some(asio::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        self->transport().close();
        return;
      }
      self->drain();
    });
  }

  void close() {
    beast::error_code ec;
    transport().socket().shutdown(tcp::socket::shutdown_send, ec);
    transport().close();
  }

  std::optional<beast::tcp_stream> plain_;                  // plain HTTP, or
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;  // HTTPS
  std::shared_ptr<Shared> shared_;
  beast::flat_buffer buffer_;  // unbounded here: the parser enforces the limits
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> res_;
  Peer peer_;
  std::array<char, 4096> scratch_;
  bool keep_alive_ = true;
  bool head_ = false;
};

Server::Server(const HttpOptions& options, asio::io_context& io, const Router& router,
               const Authenticator& auth)
    : options_(options), io_(io), shared_(std::make_shared<Shared>(options, router, auth)) {}

Server::~Server() { shared_->waiting.clear(); }

Status Server::start() {
  auto bound = bind(options_.host, options_.port, nullptr);
  if (!bound) return bound.error();
  plain_ = *bound;
  return {};
}

Result<tcp::endpoint> Server::start_tls(const std::string& host, std::uint16_t port, ssl::context& tls) {
  auto bound = bind(host, port, &tls);
  if (!bound) return bound.error();
  return (*bound)->acceptor->local_endpoint();
}

Result<Server::Listener*> Server::bind(const std::string& host, std::uint16_t port, ssl::context* tls) {
  auto acceptor = net::open_acceptor(io_, host, port);
  if (!acceptor) return acceptor.error();
  return &listen_on(std::move(*acceptor), tls);
}

void Server::start(tcp::endpoint::protocol_type protocol, int listening_fd) {
  auto acceptor = std::make_unique<tcp::acceptor>(io_);
  acceptor->assign(protocol, listening_fd);
  plain_ = &listen_on(std::move(acceptor), nullptr);
}

Server::Listener& Server::listen_on(std::unique_ptr<tcp::acceptor> acceptor, ssl::context* tls) {
  auto l = std::make_unique<Listener>();
  l->tls = tls;
  l->acceptor = std::move(acceptor);
  listeners_.push_back(std::move(l));
  accept(*listeners_.back());
  return *listeners_.back();
}

tcp::endpoint Server::local_endpoint() const { return plain_->acceptor->local_endpoint(); }

void Server::accept(Listener& listener) {
  listener.acceptor->async_accept([this, &listener](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      spdlog::warn("{} accept failed: {}", listener.tls ? "HTTPS" : "HTTP", ec.message());
      accept(listener);
      return;
    }
    // An HTTPS client would not understand a plain answer (and a TLS
    // handshake costs more than the refusal saves): it is only closed.
    auto refuse = [&](std::string_view busy) {
      boost::system::error_code wec;
      if (listener.tls == nullptr) {
        socket.non_blocking(true, wec);
        asio::write(socket, asio::buffer(busy), wec);
      }
      socket.shutdown(tcp::socket::shutdown_send, wec);
      socket.close(wec);
      accept(listener);
    };
    if (shared_->open >= options_.max_connections) {
      if (static LogRate rate("HTTP connections refused at http-max-connections"); rate.allow())
        spdlog::warn("refusing {} connection: http-max-connections ({}) reached", listener.tls ? "HTTPS" : "HTTP",
                   options_.max_connections);
      static constexpr std::string_view kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
          "Content-Length: 93\r\n\r\n"
          "{\"error\":\"too_many_connections\",\"reason\":\"too many HTTP connections (http-max-connections)\"}\n";
      refuse(kBusy);
      return;
    }
    std::string address = address_of(socket);
    if (!shared_->take_address(address)) {
      if (static LogRate rate("HTTP connections refused at http-max-connections-per-address"); rate.allow())
        spdlog::warn("refusing {} connection from {}: http-max-connections-per-address ({}) reached",
                   listener.tls ? "HTTPS" : "HTTP", address, options_.max_connections_per_address);
      static constexpr std::string_view kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
          "Content-Length: 123\r\n\r\n"
          "{\"error\":\"too_many_connections\",\"reason\":\"too many HTTP connections from this address "
          "(http-max-connections-per-address)\"}\n";
      refuse(kBusy);
      return;
    }
    std::make_shared<Session>(std::move(socket), listener.tls, shared_, std::move(address))->start();
    accept(listener);
  });
}

void Server::stop() {
  for (auto& l : listeners_) {
    boost::system::error_code ec;
    l->acceptor->close(ec);
  }
  shared_->waiting.clear();
}

}  // namespace ferry::http
