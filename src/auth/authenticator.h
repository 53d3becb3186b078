#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "auth/auth_options.h"
#include "auth/login_limiter.h"
#include "auth/user_store.h"

// Who may connect, and to which vhost (docs/security.md). One per broker,
// shared by every shard (and by the management API). The user store is an
// immutable snapshot replaced whole when the users file changes (edited by
// the management API, or by `ferry user` and re-read within a second), so a
// login keeps the snapshot it was decided on. Password checks and users
// file edits run on the authenticator's own thread, never on a shard's
// event loop.
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
  // The user's grants in the vhost (kOk only), sharing ownership of the
  // snapshot they come from (a later edit does not change them).
  std::shared_ptr<const Permissions> permissions;
};

// "127.0.0.1:5000" -> "127.0.0.1", "::1:5000" -> "::1" (what Transport::peer() gives).
std::string address_of_peer(std::string_view peer);
// 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
bool is_loopback_address(std::string_view address);

class Authenticator {
 public:
  static constexpr std::size_t kMaxPending = 1000;

  static constexpr std::int64_t kWatchIntervalMs = 1000;

  // `options.users_file` (if set) is watched: when its modification time,
  // size or inode change, it is read again and replaces the store (a file
  // that no longer loads, or lacks default-vhost, is logged and ignored).
  Authenticator(UserStore store, AuthOptions options);
  ~Authenticator();  // stops the thread; logins and edits still waiting get no answer
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  const AuthOptions& options() const { return options_; }
  // The current snapshot. Any thread.
  std::shared_ptr<const UserStore> store() const;
  // Counts store replacements (edits and reloads): caches of login
  // decisions compare it. Any thread.
  std::uint64_t generation() const;

  // A change to the users file: `edit` runs on the authenticator's thread
  // on the file's current content (read under an exclusive lock on
  // "<users-file>.lock", which `ferry user` takes too), and returns OK to
  // save the result or an Error to leave everything as it was. The
  // result must keep default-vhost. Then the file is written and the store
  // replaced, and `done` runs on that thread with OK or the Error (also
  // when there is no users-file to save to, or writing fails). Past
  // kMaxPending waiting jobs, `done` runs at once with an Error.
  using Edit = std::function<Status(UserStore&)>;
  void submit_edit(Edit edit, std::function<void(Status)> done);

  // The vhost a CONNECT `host` header selects: a vhost of that name if there
  // is one, else default-vhost (clients send their server's host name here).
  std::string vhost_for_host(std::optional<std::string_view> host) const;

  // A login without password check: the default-user of a CONNECT that sent
  // no login, or a client certificate's CN. Checks the failed-login limit of
  // the address (kThrottled: see the .cc for why it covers these too),
  // loopback-users and the vhost grant. Fast (no hashing).
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
  using Job = std::function<void()>;
  bool enqueue(Job job);  // false: stopping or full
  void run();
  Status apply_edit(const Edit& edit);
  void reload_if_changed();
  void replace(UserStore store);

  const AuthOptions options_;
  mutable LoginLimiter limiter_;  // thread-safe; authorize() is const for its callers
  mutable std::mutex store_mutex_;
  std::shared_ptr<const UserStore> store_;  // GUARDED_BY(store_mutex_)
  std::uint64_t generation_ = 0;            // GUARDED_BY(store_mutex_)
  // The users file as last read or written (the thread's own).
  struct FileStamp {
    std::int64_t mtime_ns = -1;
    std::int64_t size = -1;
    std::uint64_t inode = 0;
    bool operator==(const FileStamp&) const = default;
  };
  static FileStamp stamp_of(const std::string& path);  // mtime_ns -1: no such file
  FileStamp stamp_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;  // GUARDED_BY(mutex_)
  bool stopping_ = false; // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace ferry::auth
