#include "http/authenticator.h"

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "auth/authenticator.h"

namespace ferry::http {
namespace {

std::string sha256(std::string_view user, std::string_view pass) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  std::string in;
  in.reserve(user.size() + 1 + pass.size());
  in.append(user).push_back('\0');
  in.append(pass);
  EVP_Digest(in.data(), in.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool has_management_tag(const auth::User& u) {
  return std::any_of(u.tags.begin(), u.tags.end(), [](const std::string& t) {
    return t == "administrator" || t == "management" || t == "monitoring";
  });
}

}  // namespace

bool Authenticator::check(std::string_view user, std::string_view pass, const Peer& peer) const {
  if (users_ == nullptr) return peer.loopback && user == "guest" && pass == "guest";
  const std::string name(user);
  const std::string digest = sha256(user, pass);
  const std::int64_t now = now_ms();
  {
    std::lock_guard lock(mu_);
    auto it = remembered_.find(name);
    // loopback-users is checked again: the same credentials from elsewhere fail.
    if (it != remembered_.end() && it->second.digest == digest && it->second.until_ms > now &&
        (peer.loopback || std::find(users_->options().loopback_users.begin(),
                                    users_->options().loopback_users.end(),
                                    name) == users_->options().loopback_users.end()))
      return true;
  }
  if (!check_slow(name, std::string(pass), peer)) return false;
  std::lock_guard lock(mu_);
  if (remembered_.size() >= kMaxRemembered) {
    for (auto it = remembered_.begin(); it != remembered_.end();) {
      it = it->second.until_ms <= now ? remembered_.erase(it) : std::next(it);
    }
    if (remembered_.size() >= kMaxRemembered) remembered_.clear();
  }
  remembered_[name] = Remembered{digest, now + kRememberMs};
  return true;
}

bool Authenticator::check_slow(const std::string& user, const std::string& pass, const Peer& peer) const {
  auth::LoginResult r = users_->verify(user, pass, peer.address, std::nullopt);
  if (r.status != auth::LoginStatus::kOk) return false;
  const auth::User* u = users_->store().find_user(user);
  return u != nullptr && has_management_tag(*u);
}

}  // namespace ferry::http
