#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"

namespace ferry::http {

// The management port while the broker recovers its journal, before the
// event loops run: a supervisor or load balancer gets an answer instead of
// "connection refused". GET /healthz: 200 {"status":"ok"}; GET /readyz: 503
// {"status":"recovering","progress":0.4}; anything else: 503 naming the
// recovery. Every answer closes its connection.
//
// Its own io_context on its own thread; touches nothing of the broker but
// `progress` (called on that thread). hand_over() stops it and gives its
// listening socket to the real server (http::Server::start), so the port
// never closes between the two.
class StartupResponder {
 public:
  // Binds host:port and starts answering; an Error (asio's text, e.g.
  // "bind: Address already in use") when it cannot bind. `progress`
  // returns 0..1.
  static Result<std::unique_ptr<StartupResponder>> start(const std::string& host, std::uint16_t port,
                                                         std::function<double()> progress);
  ~StartupResponder();
  StartupResponder(const StartupResponder&) = delete;
  StartupResponder& operator=(const StartupResponder&) = delete;

  boost::asio::ip::tcp::endpoint local_endpoint() const;
  // Stops accepting, lets the requests already accepted be answered (for at
  // most kHandOverGrace), and returns the listening socket's descriptor, now
  // owned by the caller.
  int hand_over();
  static constexpr std::chrono::milliseconds kHandOverGrace{500};

 private:
  class Exchange;
  explicit StartupResponder(std::function<double()> progress);
  void accept();

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::function<double()> progress_;
  std::thread thread_;
};

}  // namespace ferry::http
