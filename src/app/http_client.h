#pragma once

#include <string>

#include "common/result.h"

namespace ferry::app {

// How the admin subcommands trust an HTTPS management listener.
struct HttpClientTls {
  std::string ca_file;    // PEM CAs to verify the server by; "" = the system trust store
  bool insecure = false;  // no verification at all (like curl -k)
  // A client certificate (chain) and its key, both PEM, for a listener with
  // tls-verify-client; both or neither.
  std::string cert_file;
  std::string key_file;
};

// A small blocking HTTP/1.1 client for the admin subcommands (`ferry
// queues`, ...): one request per connection, HTTP Basic credentials, over
// TCP or TLS. An Error when the address is malformed, the server cannot be
// reached, its certificate is not trusted, or it answers with something
// that is not HTTP.
class HttpClient {
 public:
  // `address`: HOST:PORT or http://HOST:PORT of the management listener
  // (http-listen), or https://HOST:PORT (https-listen). Over HTTPS the
  // server certificate must name HOST (DNS name or IP address) unless
  // tls.insecure.
  static Result<HttpClient> create(std::string address, std::string user, std::string password,
                                   HttpClientTls tls = {}, int timeout_ms = 10000);

  struct Response {
    unsigned status = 0;
    std::string body;
  };
  // Any HTTP status is a Response; an Error only when there is none.
  Result<Response> request(const std::string& method, const std::string& target, const std::string& body = "");

 private:
  HttpClient() = default;
  bool https_ = false;
  std::string host_;
  std::string port_;
  std::string authorization_;
  HttpClientTls tls_;
  int timeout_ms_ = 10000;
};

}  // namespace ferry::app
