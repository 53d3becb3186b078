#include "auth/user_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <toml++/toml.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "auth/password_hash.h"

namespace ferry::auth {

namespace {

// The built-in guest's password is public, so its hash needs no cost beyond
// the minimum; only its form matters.
constexpr std::uint32_t kGuestIterations = kMinIterations;

Result<PermissionEntry> make_entry(const std::string& user, const std::string& vhost, const std::string& configure,
                                   const std::string& write, const std::string& read) {
  PermissionEntry e{user, vhost, configure, write, read, {}};
  auto c = Pattern::compile(configure);
  if (!c) return c.error();
  auto w = Pattern::compile(write);
  if (!w) return w.error();
  auto r = Pattern::compile(read);
  if (!r) return r.error();
  e.compiled = Permissions{*c, *w, *r};
  return e;
}

}  // namespace

std::vector<std::string> split_tags(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    std::string_view t = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    if (!t.empty()) out.emplace_back(t);
  }
  return out;
}

Status check_name(std::string_view what, std::string_view name) {
  if (name.empty()) return failure(std::string(what) + " name must not be empty");
  if (name.size() > 255) return failure(std::string(what) + " name longer than 255 bytes");
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f) return failure(std::string(what) + " name contains a control character");
  return {};
}

UserStore UserStore::builtin() {
  UserStore s;
  s.vhosts_.insert("/");
  // The minimum cost is in bounds: only a failing random source refuses it,
  // and then nothing can work (a bug or a broken host, not an input).
  auto guest_hash = hash_password("guest", kGuestIterations);
  FERRY_ASSERT(guest_hash.ok());
  s.users_["guest"] = User{"guest", std::move(*guest_hash), {"administrator"}};
  (void)s.set_permissions("guest", "/", ".*", ".*", ".*");
  s.refresh_dummy();
  return s;
}

Result<UserStore> UserStore::load(const std::string& path) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {  // toml++ throws: its boundary
    return failure(path, std::string(e.description()));
  }
  auto fail = [&](const std::string& what) { return failure(path, what); };
  UserStore s;
  if (auto* v = t["vhosts"].as_array()) {
    for (const auto& node : *v) {
      auto name = node.value<std::string>();
      if (!name) return fail("vhosts must be a list of strings");
      if (Status done = s.add_vhost(*name); !done) return fail(done.error().text());
    }
  } else if (t.contains("vhosts")) {
    return fail("vhosts must be a list of strings");
  } else {
    s.vhosts_.insert("/");
  }
  if (auto* users = t["users"].as_table()) {
    for (const auto& [key, node] : *users) {
      const std::string name(key.str());
      auto* u = node.as_table();
      if (!u) return fail("users." + name + " must be a table");
      auto hash = (*u)["password-hash"].value<std::string>();
      if (!hash) return fail("users." + name + " lacks password-hash");
      if (!valid_hash(*hash)) return fail("users." + name + ": password-hash is not a hash Ferry reads (pbkdf2-sha256$..., rabbitmq-sha256$...)");
      std::vector<std::string> tags;
      if (auto* arr = (*u)["tags"].as_array()) {
        for (const auto& tn : *arr) {
          auto tag = tn.value<std::string>();
          if (!tag) return fail("users." + name + ": tags must be strings");
          tags.push_back(*tag);
        }
      }
      if (Status done = s.add_user(name, *hash, std::move(tags)); !done) return fail(done.error().text());
    }
  } else if (t.contains("users")) {
    return fail("users must be a table");
  }
  if (auto* perms = t["permissions"].as_array()) {
    for (const auto& node : *perms) {
      auto* p = node.as_table();
      if (!p) return fail("each [[permissions]] must be a table");
      // In this order: the first missing field is the one reported.
      std::string fields[5];
      const char* names[5] = {"user", "vhost", "configure", "write", "read"};
      for (int i = 0; i < 5; ++i) {
        auto v = (*p)[names[i]].value<std::string>();
        if (!v) return fail(std::string("a [[permissions]] entry lacks ") + names[i]);
        fields[i] = std::move(*v);
      }
      const std::string &user = fields[0], &vhost = fields[1], &configure = fields[2];
      const std::string &write = fields[3], &read = fields[4];
      if (Status done = s.set_permissions(user, vhost, configure, write, read); !done) return fail(done.error().text());
    }
  } else if (t.contains("permissions")) {
    return fail("permissions must be an array of tables ([[permissions]])");
  }
  s.refresh_dummy();
  return s;
}

Result<UserStore> UserStore::load_or_seed(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return builtin();
  return load(path);
}

Status UserStore::save(const std::string& path) const {
  toml::table t;
  toml::array vh;
  for (const std::string& v : vhosts_) vh.push_back(v);
  t.insert("vhosts", std::move(vh));
  toml::table users;
  for (const auto& [name, u] : users_) {
    toml::array tags;
    for (const std::string& tag : u.tags) tags.push_back(tag);
    users.insert(name, toml::table{{"password-hash", u.password_hash}, {"tags", std::move(tags)}});
  }
  t.insert("users", std::move(users));
  toml::array perms;
  for (const PermissionEntry& e : permissions_)
    perms.push_back(toml::table{{"user", e.user},
                                {"vhost", e.vhost},
                                {"configure", e.configure},
                                {"write", e.write},
                                {"read", e.read}});
  t.insert("permissions", std::move(perms));
  std::ostringstream text;
  text << "# Ferry users file: users (salted PBKDF2 hashes), vhosts and permissions.\n"
          "# Edit with `ferry user` and `ferry vhost`; see docs/security.md.\n\n"
       << t << "\n";
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return failure("cannot write " + tmp);
  const std::string data = text.str();
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) {
      ::close(fd);
      return failure("cannot write " + tmp);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return failure("cannot write " + tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return failure("cannot replace " + path);
  // The rename itself survives a power loss only once the directory is
  // synced (as store::replace_file does; this file keeps mode 0600).
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  if (int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
    const bool synced = ::fsync(d) == 0;
    ::close(d);
    if (!synced) return failure("cannot sync the directory of " + path);
  }
  return {};
}

Status UserStore::add_user(const std::string& name, std::string password_hash, std::vector<std::string> tags) {
  if (Status ok = check_name("user", name); !ok) return ok;
  if (users_.contains(name)) return failure("user '" + name + "' already exists");
  if (!valid_hash(password_hash)) return failure("not a password hash Ferry reads");
  users_[name] = User{name, std::move(password_hash), std::move(tags)};
  refresh_dummy();
  return {};
}

Status UserStore::delete_user(const std::string& name) {
  if (!users_.erase(name)) return failure("no user '" + name + "'");
  std::erase_if(permissions_, [&](const PermissionEntry& e) { return e.user == name; });
  refresh_dummy();
  return {};
}

Status UserStore::update_user(const std::string& name, std::optional<std::string> password_hash,
                                   std::optional<std::vector<std::string>> tags) {
  auto it = users_.find(name);
  if (it == users_.end()) return failure("no user '" + name + "'");
  if (password_hash) {
    if (!valid_hash(*password_hash)) return failure("not a password hash Ferry reads");
    it->second.password_hash = std::move(*password_hash);
  }
  if (tags) it->second.tags = std::move(*tags);
  refresh_dummy();
  return {};
}

Status UserStore::clear_permissions(const std::string& user, const std::string& vhost) {
  const auto n = std::erase_if(permissions_, [&](const PermissionEntry& e) { return e.user == user && e.vhost == vhost; });
  if (n == 0) return failure("no permissions for user '" + user + "' in vhost '" + vhost + "'");
  return {};
}

Status UserStore::set_permissions(const std::string& user, const std::string& vhost,
                                       const std::string& configure, const std::string& write,
                                       const std::string& read) {
  if (!users_.contains(user)) return failure("no user '" + user + "'");
  if (!vhosts_.contains(vhost)) return failure("no vhost '" + vhost + "'");
  auto entry = make_entry(user, vhost, configure, write, read);
  if (!entry) return entry.error();
  for (PermissionEntry& e : permissions_) {
    if (e.user == user && e.vhost == vhost) {
      e = std::move(*entry);
      return {};
    }
  }
  permissions_.push_back(std::move(*entry));
  return {};
}

Status UserStore::add_vhost(const std::string& name) {
  if (Status ok = check_name("vhost", name); !ok) return ok;
  if (!vhosts_.insert(name).second) return failure("vhost '" + name + "' already exists");
  return {};
}

Status UserStore::delete_vhost(const std::string& name) {
  if (!vhosts_.erase(name)) return failure("no vhost '" + name + "'");
  std::erase_if(permissions_, [&](const PermissionEntry& e) { return e.vhost == name; });
  return {};
}

const User* UserStore::find_user(std::string_view name) const {
  auto it = users_.find(std::string(name));
  return it == users_.end() ? nullptr : &it->second;
}

const Permissions* UserStore::permissions(std::string_view user, std::string_view vhost) const {
  for (const PermissionEntry& e : permissions_)
    if (e.user == user && e.vhost == vhost) return &e.compiled;
  return nullptr;
}

bool UserStore::check_password(std::string_view user, std::string_view password) const {
  const User* u = find_user(user);
  if (u == nullptr) {
    (void)verify_password(dummy_hash_, password);
    return false;
  }
  return verify_password(u->password_hash, password);
}

void UserStore::refresh_dummy() {
  // The highest cost among the users an attacker may be guessing at.
  std::uint32_t cost = 0;
  for (const auto& [name, u] : users_) {
    if (name == "guest") continue;  // its cost says nothing about the others'
    if (auto p = parse_hash(u.password_hash)) cost = std::max(cost, p->iterations);
  }
  dummy_hash_ = dummy_hash(cost == 0 ? kDefaultIterations : cost);
}

}  // namespace ferry::auth
