#pragma once

#include <string>
#include <string_view>

namespace ferry::http {

// Who is on the other end of an HTTP request.
struct Peer {
  std::string address;  // IP text, no port
  bool loopback = false;
};

// Decides HTTP Basic credentials for the management API. Until Ferry has a
// user store, only guest/guest from a loopback client is accepted (as
// RabbitMQ's default guest user). The user store replaces check(); nothing
// else in http/ looks at credentials. Called on shard 0.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual bool check(std::string_view user, std::string_view pass, const Peer& peer) const;
};

}  // namespace ferry::http
