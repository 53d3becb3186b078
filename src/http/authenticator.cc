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

}  // namespace

Role role_of(const std::vector<std::string>& tags) {
  Role r = Role::kNone;
  for (const std::string& t : tags) {
    if (t == "administrator") r = std::max(r, Role::kAdministrator);
    else if (t == "management" || t == "policymaker") r = std::max(r, Role::kManagement);
    else if (t == "monitoring") r = std::max(r, Role::kMonitoring);
  }
  return r;
}

std::string_view tag_of(Role r) {
  switch (r) {
    case Role::kAdministrator: return "administrator";
    case Role::kManagement: return "management";
    case Role::kMonitoring: return "monitoring";
    case Role::kNone: break;
  }
  return "";
}

Role Authenticator::check(std::string_view user, std::string_view pass, const Peer& peer) const {
  if (users_ == nullptr)
    return peer.loopback && user == "guest" && pass == "guest" ? Role::kAdministrator : Role::kNone;
  const std::string name(user);
  const std::string digest = sha256(user, pass);
  const std::int64_t now = now_ms();
  const std::uint64_t generation = users_->generation();
  {
    std::lock_guard lock(mu_);
    auto it = remembered_.find(name);
    // loopback-users is checked again: the same credentials from elsewhere fail.
    if (it != remembered_.end() && it->second.digest == digest && it->second.until_ms > now &&
        it->second.generation == generation &&
        (peer.loopback || std::find(users_->options().loopback_users.begin(),
                                    users_->options().loopback_users.end(),
                                    name) == users_->options().loopback_users.end()))
      return it->second.role;
  }
  const Role role = check_slow(name, std::string(pass), peer);
  if (role == Role::kNone) return role;
  std::lock_guard lock(mu_);
  if (remembered_.size() >= kMaxRemembered) {
    for (auto it = remembered_.begin(); it != remembered_.end();) {
      it = it->second.until_ms <= now ? remembered_.erase(it) : std::next(it);
    }
    if (remembered_.size() >= kMaxRemembered) remembered_.clear();
  }
  remembered_[name] = Remembered{digest, now + kRememberMs, generation, role};
  return role;
}

std::optional<std::set<std::string>> Authenticator::visible_vhosts(std::string_view user) const {
  if (users_ == nullptr) return std::nullopt;
  const auto store = users_->store();
  const auth::User* u = store->find_user(user);
  if (u == nullptr) return std::set<std::string>{};
  for (const std::string& t : u->tags)
    if (t == "administrator" || t == "monitoring") return std::nullopt;
  std::set<std::string> out;
  for (const auto& e : store->permission_entries())
    if (e.user == user) out.insert(e.vhost);
  return out;
}

Role Authenticator::check_slow(const std::string& user, const std::string& pass, const Peer& peer) const {
  auth::LoginResult r = users_->verify(user, pass, peer.address, std::nullopt);
  if (r.status != auth::LoginStatus::kOk) return Role::kNone;
  // The store as it is now (it may have changed during the hash).
  const auto store = users_->store();
  const auth::User* u = store->find_user(user);
  return u == nullptr ? Role::kNone : role_of(u->tags);
}

}  // namespace ferry::http
