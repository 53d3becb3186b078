#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::auth {

// The `ferry serve` options about who may connect (docs/security.md).
struct AuthOptions {
  std::string users_file;                                // "" = only the built-in guest
  std::vector<std::string> loopback_users = {"guest"};   // may connect from loopback only
  std::string default_user = "guest";                    // CONNECT without login; "" = login required
  bool ssl_cert_login = false;                           // CONNECT without login over TLS: the client certificate's CN
  std::string default_vhost = "/";                       // host header naming no known vhost
  std::uint32_t login_failure_delay_ms = 1000;           // ERROR after a failed login waits this long
  std::uint32_t max_login_failures = 10;                 // per client address per minute; 0 = no limit
};

}  // namespace ferry::auth
