#pragma once

#include <string>

namespace ferry::app {

// A small blocking HTTP/1.1 client for the admin subcommands (`ferry
// queues`, ...): one request per connection, HTTP Basic credentials.
// Throws std::runtime_error when the server cannot be reached or answers
// with something that is not HTTP.
class HttpClient {
 public:
  // `address`: HOST:PORT of the management listener (http-listen).
  HttpClient(std::string address, std::string user, std::string password, int timeout_ms = 10000);

  struct Result {
    unsigned status = 0;
    std::string body;
  };
  Result request(const std::string& method, const std::string& target, const std::string& body = "");

 private:
  std::string host_;
  std::string port_;
  std::string authorization_;
  int timeout_ms_;
};

}  // namespace ferry::app
