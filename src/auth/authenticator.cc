#include "auth/authenticator.h"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <cstring>

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

Authenticator::Authenticator(UserStore store, AuthOptions options)
    : store_(std::move(store)), options_(std::move(options)), limiter_(options_.max_login_failures) {
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

std::string Authenticator::vhost_for_host(std::optional<std::string_view> host) const {
  if (host && store_.has_vhost(*host)) return std::string(*host);
  return options_.default_vhost;
}

LoginResult Authenticator::authorize(const std::string& user, const std::string& vhost,
                                     const std::string& peer_address) const {
  LoginResult r;
  r.user = user;
  if (store_.find_user(user) == nullptr) {
    r.status = LoginStatus::kBadCredentials;
    return r;
  }
  const auto& lb = options_.loopback_users;
  if (std::find(lb.begin(), lb.end(), user) != lb.end() && !is_loopback_address(peer_address)) {
    r.status = LoginStatus::kLoopbackOnly;
    return r;
  }
  r.permissions = store_.permissions(user, vhost);
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
  if (!store_.check_password(user, password)) {
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

void Authenticator::submit(std::string user, std::string password, std::string peer_address,
                           std::optional<std::string> vhost, std::function<void(LoginResult)> done) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && jobs_.size() < kMaxPending) {
      jobs_.push_back(Job{std::move(user), std::move(password), std::move(peer_address), std::move(vhost),
                          std::move(done)});
      wake_.notify_one();
      return;
    }
  }
  LoginResult busy;
  busy.status = LoginStatus::kBusy;
  busy.user = std::move(user);
  done(std::move(busy));
}

void Authenticator::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    LoginResult r = verify(job.user, job.password, job.peer_address, job.vhost);
    job.done(std::move(r));
  }
}

}  // namespace ferry::auth
