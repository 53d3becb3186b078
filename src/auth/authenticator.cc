#include "auth/authenticator.h"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "auth/users_file_lock.h"
#include "common/clock.h"

namespace ferry::auth {

std::string address_of_peer(std::string_view peer) {
  auto colon = peer.rfind(':');
  if (colon == std::string_view::npos) return std::string(peer);
  std::string_view host = peer.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::string(host);
}

bool is_loopback_address(std::string_view address) {
  std::string a(address);
  unsigned char buf[16];
  if (::inet_pton(AF_INET, a.c_str(), buf) == 1) return buf[0] == 127;
  if (::inet_pton(AF_INET6, a.c_str(), buf) == 1) {
    static const unsigned char kLoop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(buf, kLoop, 16) == 0) return true;
    return std::memcmp(buf, kMapped, 12) == 0 && buf[12] == 127;
  }
  return false;
}

Authenticator::FileStamp Authenticator::stamp_of(const std::string& path) {
  FileStamp out;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    out.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    out.size = st.st_size;
    out.inode = st.st_ino;
  }
  return out;
}

Authenticator::Authenticator(UserStore store, AuthOptions options)
    : options_(std::move(options)),
      limiter_(options_.max_login_failures),
      store_(std::make_shared<const UserStore>(std::move(store))) {
  if (!options_.users_file.empty()) stamp_ = stamp_of(options_.users_file);
  thread_ = std::thread([this] { run(); });
}

Authenticator::~Authenticator() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    jobs_.clear();
  }
  wake_.notify_all();
  thread_.join();
}

std::shared_ptr<const UserStore> Authenticator::store() const {
  std::lock_guard lock(store_mutex_);
  return store_;
}

std::uint64_t Authenticator::generation() const {
  std::lock_guard lock(store_mutex_);
  return generation_;
}

void Authenticator::replace(UserStore store) {
  auto next = std::make_shared<const UserStore>(std::move(store));
  std::lock_guard lock(store_mutex_);
  store_ = std::move(next);
  ++generation_;
}

std::string Authenticator::vhost_for_host(std::optional<std::string_view> host) const {
  if (host && store()->has_vhost(*host)) return std::string(*host);
  return options_.default_vhost;
}

LoginResult Authenticator::authorize(const std::string& user, const std::string& vhost,
                                     const std::string& peer_address) const {
  LoginResult r;
  r.user = user;
  // max-login-failures blocks the address, not a user: once an address has
  // failed too often, no login from it gets in until its failures age out,
  // the default-user (a CONNECT without login) and a certificate's CN
  // included. An address that is guessing passwords is treated as hostile
  // for the window; exempting the default-user would still give it a
  // session (default-user is often guest, with every permission on "/"),
  // so "refused with any password" would not mean refused. The price: a
  // login-less client behind the same address (NAT) waits the window out,
  // as password clients there already do. These logins add no failures of
  // their own: no secret was guessed.
  if (limiter_.blocked(peer_address, mono_ms())) {
    r.status = LoginStatus::kThrottled;
    return r;
  }
  const std::shared_ptr<const UserStore> users = store();
  if (users->find_user(user) == nullptr) {
    r.status = LoginStatus::kBadCredentials;
    return r;
  }
  const auto& lb = options_.loopback_users;
  if (std::find(lb.begin(), lb.end(), user) != lb.end() && !is_loopback_address(peer_address)) {
    r.status = LoginStatus::kLoopbackOnly;
    return r;
  }
  if (const Permissions* p = users->permissions(user, vhost))
    r.permissions = std::shared_ptr<const Permissions>(users, p);  // shares the snapshot
  r.status = r.permissions ? LoginStatus::kOk : LoginStatus::kNoVhostAccess;
  return r;
}

LoginResult Authenticator::verify(const std::string& user, const std::string& password,
                                  const std::string& peer_address, std::optional<std::string> vhost) {
  LoginResult r;
  r.user = user;
  if (limiter_.blocked(peer_address, mono_ms())) {
    r.status = LoginStatus::kThrottled;
    return r;
  }
  if (!store()->check_password(user, password)) {
    limiter_.failed(peer_address, mono_ms());
    r.status = LoginStatus::kBadCredentials;
    return r;
  }
  if (!vhost) {
    LoginResult any = authorize(user, options_.default_vhost, peer_address);
    if (any.status == LoginStatus::kNoVhostAccess) any.status = LoginStatus::kOk;
    return any;
  }
  return authorize(user, *vhost, peer_address);
}

bool Authenticator::enqueue(Job job) {
  std::lock_guard lock(mutex_);
  if (stopping_ || jobs_.size() >= kMaxPending) return false;
  jobs_.push_back(std::move(job));
  wake_.notify_one();
  return true;
}

void Authenticator::submit(std::string user, std::string password, std::string peer_address,
                           std::optional<std::string> vhost, std::function<void(LoginResult)> done) {
  auto shared_done = std::make_shared<std::function<void(LoginResult)>>(std::move(done));
  const bool queued = enqueue([this, user, password = std::move(password), peer_address = std::move(peer_address),
                               vhost = std::move(vhost), shared_done]() {
    (*shared_done)(verify(user, password, peer_address, vhost));
  });
  if (queued) return;
  LoginResult busy;
  busy.status = LoginStatus::kBusy;
  busy.user = std::move(user);
  (*shared_done)(std::move(busy));
}

void Authenticator::submit_edit(Edit edit, std::function<void(Status)> done) {
  auto shared_done = std::make_shared<std::function<void(Status)>>(std::move(done));
  const bool queued = enqueue([this, edit = std::move(edit), shared_done] { (*shared_done)(apply_edit(edit)); });
  if (!queued) (*shared_done)(failure("too many logins and edits waiting; try again"));
}

Status Authenticator::apply_edit(const Edit& edit) {
  const std::string& path = options_.users_file;
  if (path.empty()) return failure("the broker runs without a users-file: there is nothing to save users to");
  // The file's own problems (lock, read, write) are logged: an operator
  // must see them, not only the API client.
  auto logged = [](const Error& e) {
    spdlog::error("users file edit failed: {}", e.text());
    return e;
  };
  auto lock = UsersFileLock::acquire(path);
  if (!lock) return logged(lock.error());
  auto loaded = UserStore::load_or_seed(path);
  if (!loaded) return logged(loaded.error());
  UserStore& users = *loaded;
  if (Status edited = edit(users); !edited) return edited;
  if (!users.has_vhost(options_.default_vhost))
    return failure("vhost '" + options_.default_vhost + "' is default-vhost and cannot be deleted");
  if (Status saved = users.save(path); !saved) return logged(saved.error());
  stamp_ = stamp_of(path);
  replace(std::move(users));
  return {};
}

void Authenticator::reload_if_changed() {
  const std::string& path = options_.users_file;
  if (path.empty()) return;
  const FileStamp now = stamp_of(path);
  if (now == stamp_) return;
  stamp_ = now;
  if (now.mtime_ns < 0) {
    spdlog::error("users file {} is gone: keeping the users read before", path);
    return;
  }
  // Not half-way through another editor's save (a read-only directory
  // without a lock file: read anyway, saves are atomic renames).
  auto lock = UsersFileLock::acquire(path);
  auto loaded = UserStore::load(path);
  if (!loaded) {
    spdlog::error("users file changed but cannot be read ({}): keeping the users read before",
                  loaded.error().text());
    return;
  }
  UserStore& users = *loaded;
  if (!users.has_vhost(options_.default_vhost)) {
    spdlog::error("users file {} changed but has no vhost '{}' (default-vhost): keeping the users read before",
                  path, options_.default_vhost);
    return;
  }
  spdlog::info("users file {} changed: {} user(s), {} vhost(s)", path, users.users().size(),
               users.vhosts().size());
  replace(std::move(users));
}

void Authenticator::run() {
  // The users file is looked at every kWatchIntervalMs, also while logins
  // keep the thread busy.
  auto next_look = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWatchIntervalMs);
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next_look, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      if (!jobs_.empty()) {
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
    }
    if (job) job();
    if (std::chrono::steady_clock::now() >= next_look) {
      reload_if_changed();
      next_look = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWatchIntervalMs);
    }
  }
}

}  // namespace ferry::auth
