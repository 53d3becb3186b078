#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "auth/auth_options.h"
#include "auth/login_limiter.h"
#include "auth/user_store.h"

// Who may connect, and to which vhost (docs/security.md). One per broker,
// shared by every shard (and by the management API): the user store is
// read-only while the broker runs, so reads need no lock; password checks
// run on the authenticator's own thread, never on a shard's event loop.
namespace ferry::auth {

enum class LoginStatus {
  kOk,
  kBadCredentials,  // unknown user or wrong password: one answer for both
  kLoopbackOnly,    // right password, but the user is in loopback-users
  kNoVhostAccess,   // right password, but no permissions on the vhost
  kThrottled,       // too many failures from this address (max-login-failures)
  kBusy,            // too many logins waiting to be checked
};

struct LoginResult {
  LoginStatus status = LoginStatus::kBadCredentials;
  std::string user;
  // The user's grants in the vhost (kOk only); valid as long as the
  // Authenticator.
  const Permissions* permissions = nullptr;
};

// "127.0.0.1:5000" -> "127.0.0.1", "::1:5000" -> "::1" (what Transport::peer() gives).
std::string address_of_peer(std::string_view peer);
// 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
bool is_loopback_address(std::string_view address);

class Authenticator {
 public:
  static constexpr std::size_t kMaxPending = 1000;

  Authenticator(UserStore store, AuthOptions options);
  ~Authenticator();  // stops the thread; logins still waiting get no answer
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  const AuthOptions& options() const { return options_; }
  const UserStore& store() const { return store_; }

  // The vhost a CONNECT `host` header selects: a vhost of that name if there
  // is one, else default-vhost (clients send their server's host name here).
  std::string vhost_for_host(std::optional<std::string_view> host) const;

  // A login without password check: the default-user of a CONNECT that sent
  // no login. Checks loopback-users and the vhost grant. Fast (no hashing).
  LoginResult authorize(const std::string& user, const std::string& vhost, const std::string& peer_address) const;

  // Checks user + password (slow: hashing), then loopback-users and, unless
  // `vhost` is nullopt, the vhost grant. Counts failures per address. For the
  // management API's HTTP Basic auth: call it off the event loop.
  LoginResult verify(const std::string& user, const std::string& password, const std::string& peer_address,
                     std::optional<std::string> vhost);

  // verify() on the authenticator's thread; `done` runs on that thread (post
  // from there to the caller's shard). Any thread. Past kMaxPending waiting
  // logins, `done` runs at once (on the caller's thread) with kBusy. The
  // management API's HTTP Basic auth can use it with vhost nullopt.
  void submit(std::string user, std::string password, std::string peer_address, std::optional<std::string> vhost,
              std::function<void(LoginResult)> done);

 private:
  struct Job {
    std::string user, password, peer_address;
    std::optional<std::string> vhost;
    std::function<void(LoginResult)> done;
  };
  void run();

  const UserStore store_;
  const AuthOptions options_;
  LoginLimiter limiter_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;  // GUARDED_BY(mutex_)
  bool stopping_ = false; // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace ferry::auth
