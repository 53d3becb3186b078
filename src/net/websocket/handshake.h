#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::net::websocket {

// The server side of the RFC 6455 opening handshake, as a pure incremental
// parser: feed() the bytes of the HTTP upgrade request until it returns
// kDone (then response() is the 101 answer) or kRejected (then response()
// is the HTTP error answer to send before closing). Bounded: a request
// longer than kMaxRequestBytes is rejected (431).
//
// Subprotocols (docs/websocket-tls.md): of those offered, the first of
// v12.stomp, v11.stomp, v10.stomp is chosen; a client that offers none is
// accepted without one (as RabbitMQ Web-STOMP does); a client that offers
// only others is rejected (400), since it would not speak STOMP. A listener
// for another protocol gives its own list (MQTT: "mqtt", docs/mqtt.md).
class Handshake {
 public:
  static constexpr std::size_t kMaxRequestBytes = 8 * 1024;

  // `path`: the one request path served (ws-path); a query string is ignored.
  // `protocols`: the subprotocols served, preferred first (empty: STOMP's).
  explicit Handshake(std::string path, std::vector<std::string> protocols = {});

  // Another request path served on the same listener, with its own
  // subprotocols (MQTT's /mqtt beside STOMP's ws-path, docs/mqtt.md);
  // endpoint() says which path the client asked for.
  void add_endpoint(std::string path, std::vector<std::string> protocols);

  enum class Status { kNeedMore, kDone, kRejected };
  struct Result {
    Status status = Status::kNeedMore;
    std::size_t consumed = 0;  // bytes of `data` that belonged to the request
  };
  // Bytes after the request (consumed < data.size() with kDone) are the
  // first WebSocket frames.
  Result feed(std::string_view data);

  // The HTTP response to write (after kDone or kRejected).
  const std::string& response() const { return response_; }
  // The chosen subprotocol ("" = none), after kDone.
  const std::string& protocol() const { return protocol_; }
  // Why the request was rejected (for the log), after kRejected.
  const std::string& reason() const { return reason_; }
  // After kDone: 0 for the constructor's path, n for the n-th add_endpoint.
  std::size_t endpoint() const { return endpoint_; }
  // After kDone: the chosen path serves STOMP (it was given no
  // subprotocols of its own; MQTT's /mqtt has "mqtt").
  bool serves_stomp() const { return endpoint_ == 0 ? stomp_ : more_[endpoint_ - 1].protocols.empty(); }

 private:
  Status parse();
  Status reject(int status, std::string_view reason, std::string_view extra_headers = {});

  std::string path_;
  std::vector<std::string> protocols_;
  bool stomp_ = false;  // the constructor's path: given no subprotocols (STOMP's)
  struct Endpoint {
    std::string path;
    std::vector<std::string> protocols;
  };
  std::vector<Endpoint> more_;  // add_endpoint's
  std::size_t endpoint_ = 0;
  std::string request_;
  std::string response_;
  std::string protocol_;
  std::string reason_;
  Status status_ = Status::kNeedMore;
};

// Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
std::string accept_key(std::string_view key);

}  // namespace ferry::net::websocket
