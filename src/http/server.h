#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>

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
// idle_timeout_ms to read a request.
class Server {
 public:
  Server(const HttpOptions& options, boost::asio::io_context& io, const Router& router,
         const Authenticator& auth);
  ~Server();

  // Binds (throws std::system_error on failure) and starts accepting.
  void start();
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  // Closes the listener and drops requests still being answered; open
  // connections end with their io_context. Call once the loops have stopped.
  void stop();

 private:
  class Session;
  struct Shared;  // what sessions need after the Server is gone
  void accept();

  const HttpOptions& options_;
  boost::asio::io_context& io_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace ferry::http
