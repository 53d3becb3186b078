#include "http/server.h"

#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <chrono>
#include <unordered_set>

#include "http/base64.h"

namespace ferry::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
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
};

namespace {

Request to_request(const bhttp::request<bhttp::string_body>& req, const Peer& peer,
                   std::string& error) {
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
    error = "request target must be an absolute path";
    return r;
  }
  std::size_t start = 1;
  while (start <= target.size()) {
    auto slash = target.find('/', start);
    if (slash == std::string_view::npos) slash = target.size();
    auto seg = percent_decode(target.substr(start, slash - start));
    if (!seg) {
      error = "bad percent-encoding in the path";
      return r;
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
      error = "bad percent-encoding in the query";
      return r;
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

}  // namespace

// One HTTP connection. Kept alive by its pending I/O and by a handler that
// has not answered yet; lives on the server's io_context.
class Server::Session : public std::enable_shared_from_this<Server::Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<Shared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)) {
    ++shared_->open;
    boost::system::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) {
      auto addr = ep.address();
      if (addr.is_v6() && addr.to_v6().is_v4_mapped())
        addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
      peer_.address = addr.to_string();
      peer_.loopback = addr.is_loopback();
    }
  }
  ~Session() { --shared_->open; }

  void start() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(shared_->options.max_header_bytes);
    parser_->body_limit(shared_->options.max_body_bytes);
    stream_.expires_after(std::chrono::milliseconds(shared_->options.idle_timeout_ms));
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
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
    stream_.expires_never();
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    head_ = req.method() == bhttp::verb::head;
    std::string error;
    Request r = to_request(req, peer_, error);
    if (!error.empty()) {
      finish(error_response(400, "bad_request", error), keep_alive_);
      return;
    }
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
    (*found.handler)(r, found.captures, [weak](Response res) {
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
    stream_.expires_after(std::chrono::milliseconds(shared_->options.idle_timeout_ms));
    bhttp::async_write(stream_, *res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_write(ec);
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
  static constexpr int kLingerMs = 2000;
  void linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::milliseconds(kLingerMs));
    drain();
  }
  void drain() {
    stream_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        self->stream_.close();
        return;
      }
      self->drain();
    });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
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

void Server::start() {
  tcp::endpoint ep(asio::ip::make_address(options_.host), options_.port);
  acceptor_ = std::make_unique<tcp::acceptor>(io_);
  acceptor_->open(ep.protocol());
  acceptor_->set_option(tcp::acceptor::reuse_address(true));
  acceptor_->bind(ep);
  acceptor_->listen(asio::socket_base::max_listen_connections);
  accept();
}

tcp::endpoint Server::local_endpoint() const { return acceptor_->local_endpoint(); }

void Server::accept() {
  acceptor_->async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      spdlog::warn("HTTP accept failed: {}", ec.message());
      accept();
      return;
    }
    if (shared_->open >= options_.max_connections) {
      spdlog::warn("refusing HTTP connection: http-max-connections ({}) reached", options_.max_connections);
      static constexpr std::string_view kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
          "Content-Length: 93\r\n\r\n"
          "{\"error\":\"too_many_connections\",\"reason\":\"too many HTTP connections (http-max-connections)\"}\n";
      boost::system::error_code wec;
      socket.non_blocking(true, wec);
      asio::write(socket, asio::buffer(kBusy), wec);
      socket.shutdown(tcp::socket::shutdown_send, wec);
      socket.close(wec);
      accept();
      return;
    }
    std::make_shared<Session>(std::move(socket), shared_)->start();
    accept();
  });
}

void Server::stop() {
  if (acceptor_) {
    boost::system::error_code ec;
    acceptor_->close(ec);
  }
  shared_->waiting.clear();
}

}  // namespace ferry::http
