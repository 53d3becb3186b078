#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ferry::auth {
class Authenticator;
}

namespace ferry::http {

// Who is on the other end of an HTTP request.
struct Peer {
  std::string address;  // IP text, no port
  bool loopback = false;
};

// What a management user may do, from their tags (as RabbitMQ's):
// `monitoring` reads; `management` (or `policymaker`) also changes
// destinations and closes connections; `administrator` also manages users,
// vhosts and permissions. Ordered: a higher role includes the lower.
enum class Role { kNone, kMonitoring, kManagement, kAdministrator };
Role role_of(const std::vector<std::string>& tags);
std::string_view tag_of(Role r);  // "monitoring", ...

// Decides HTTP Basic credentials for the management API against the
// broker's users (auth::Authenticator, docs/security.md): the user exists,
// the password matches, loopback-users holds, and the user carries a
// management tag (`administrator`, `management`, `policymaker` or
// `monitoring`, as in RabbitMQ; the built-in guest is an administrator).
// Failures count against the client address like STOMP logins
// (max-login-failures).
//
// Password hashing is slow on purpose and this runs on shard 0, so a
// successful check is remembered for kRememberMs (keyed by user and a
// SHA-256 of the password: a changed password misses; so does any change of
// the users since, auth::Authenticator::generation()), at most
// kMaxRemembered users. Without a user store (unit tests), only guest/guest
// from loopback passes.
class Authenticator {
 public:
  static constexpr std::int64_t kRememberMs = 60'000;
  static constexpr std::size_t kMaxRemembered = 1000;

  explicit Authenticator(auth::Authenticator* users = nullptr) : users_(users) {}
  virtual ~Authenticator() = default;
  // kNone: refused (unknown user, wrong password, no management tag, ...).
  virtual Role check(std::string_view user, std::string_view pass, const Peer& peer) const;
  // The vhosts `user` may see through the API: nullopt (all) for the tags
  // administrator and monitoring, else those the user has permissions in.
  std::optional<std::set<std::string>> visible_vhosts(std::string_view user) const;

 private:
  Role check_slow(const std::string& user, const std::string& pass, const Peer& peer) const;

  auth::Authenticator* users_;
  mutable std::mutex mu_;  // the cache; check() is called on shard 0 only, the lock is cheap insurance
  struct Remembered {
    std::string digest;
    std::int64_t until_ms = 0;
    std::uint64_t generation = 0;
    Role role = Role::kNone;
  };
  mutable std::unordered_map<std::string, Remembered> remembered_;  // GUARDED_BY(mu_)
};

}  // namespace ferry::http
