#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "http/authenticator.h"
#include "http/http_options.h"
#include "http/router.h"

namespace ferry::http {

// The management listener: HTTP/1.1 with keep-alive on one io_context
// (shard 0's). Each request is parsed within the limits of HttpOptions,
// authenticated (HTTP Basic, except routes added as open), and handed to
// the Router; the reply is written when the handler answers.
//
// Limits: http-max-connections open connections (more get 503 and are
// closed), max_header_bytes / max_body_bytes per request (431 / 413),
// header_timeout_ms / body_timeout_ms to read a request, and
// max_connections_per_address connections from one address (more get 503).
//
// A second listener may speak HTTPS (https-listen): the same router,
// authenticator and limits; http-max-connections counts the connections of
// both listeners together. Its TLS handshake must finish within
// idle_timeout_ms; a failed handshake (a plain HTTP request, a missing or
// untrusted client certificate) closes the connection, logged at debug.
class Server {
 public:
  Server(const HttpOptions& options, boost::asio::io_context& io, const Router& router,
         const Authenticator& auth);
  ~Server();

  // Binds options.host:port and starts accepting plain HTTP; an Error
  // (asio's text) when it cannot bind.
  Status start();
  // The same on a listening socket that is already bound (the startup
  // responder's, handed over after recovery); the server owns it now.
  void start(boost::asio::ip::tcp::endpoint::protocol_type protocol, int listening_fd);
  // The endpoint bound by start().
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  // Binds host:port and starts accepting HTTPS with `tls`, which must
  // outlive the server (and every session: sessions end with the
  // io_context). Returns the bound endpoint (useful with port 0), or an
  // Error (asio's text) when it cannot bind.
  Result<boost::asio::ip::tcp::endpoint> start_tls(const std::string& host, std::uint16_t port,
                                                   boost::asio::ssl::context& tls);
  // Closes the listener and drops requests still being answered; open
  // connections end with their io_context. Call once the loops have stopped.
  void stop();

 private:
  class Session;
  struct Shared;  // what sessions need after the Server is gone
  struct Listener {
    std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor;
    boost::asio::ssl::context* tls = nullptr;  // null: plain HTTP
  };
  Result<Listener*> bind(const std::string& host, std::uint16_t port, boost::asio::ssl::context* tls);
  Listener& listen_on(std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor, boost::asio::ssl::context* tls);
  void accept(Listener& listener);

  const HttpOptions& options_;
  boost::asio::io_context& io_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  Listener* plain_ = nullptr;  // the one start() bound
  std::shared_ptr<Shared> shared_;
};

}  // namespace ferry::http
