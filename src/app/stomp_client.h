#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "stomp/parser.h"

namespace ferry::app {

// A small blocking STOMP 1.2 client for the command-line tools (send, recv).
// Not used by the broker. I/O failures and ERROR frames (with the broker's
// message) are Errors.
class StompClient {
 public:
  struct Frame {
    std::string command;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::optional<std::string> get(const std::string& name) const;
    // An ERROR's message and detail, once each.
    std::string error_text() const;
  };

  // Connects and logs in (CONNECT, then CONNECTED). `login` empty: no
  // login header (the broker's default-user).
  Status connect(const std::string& host_port, const std::string& vhost, const std::string& login = {},
                 const std::string& passcode = {});

  Status send_frame(const std::string& command,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    const std::string& body = {});
  // nullopt on timeout.
  Result<std::optional<Frame>> read_frame(std::chrono::milliseconds timeout);
  // Sends, then waits for the RECEIPT with this id (an ERROR is an Error).
  Status send_with_receipt(const std::string& command,
                           std::vector<std::pair<std::string, std::string>> headers,
                           const std::string& body = {});
  // DISCONNECT with a receipt; the server may close first: nothing is lost
  // either way, so there is nothing to report.
  void disconnect();

 private:
  Result<std::optional<Frame>> read_wire(std::chrono::milliseconds timeout);
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_{io_};
  stomp::Parser parser_{stomp::Limits{}};
  std::vector<char> buffer_;
  std::deque<Frame> stashed_;  // frames read while waiting for a RECEIPT
  std::size_t receipt_counter_ = 0;
};

}  // namespace ferry::app
