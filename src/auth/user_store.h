#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/permissions.h"

namespace ferry::auth {

struct User {
  std::string name;
  std::string password_hash;      // auth/password_hash.h format
  std::vector<std::string> tags;  // free-form, as RabbitMQ's (administrator, monitoring, ...)
};

struct PermissionEntry {
  std::string user, vhost;
  std::string configure, write, read;  // pattern texts
  Permissions compiled;
};

// Users, vhosts and per-(user, vhost) permissions: the users file
// (docs/security.md gives its format), or the built-in default when the
// broker runs without one (guest/guest, full permissions on vhost "/").
//
// A value: the broker shares immutable snapshots of it between threads
// (auth::Authenticator); edits (the management API, `ferry user` / `ferry
// vhost`) change a copy and save it.
class UserStore {
 public:
  // guest/guest with full permissions on "/", and vhost "/".
  static UserStore builtin();
  // An Error naming the file and the problem ("PATH: what").
  static Result<UserStore> load(const std::string& path);
  // load(), or builtin() when the file does not exist (for `ferry user add`).
  static Result<UserStore> load_or_seed(const std::string& path);
  // Writes the whole file (temporary file + rename, mode 0600).
  Status save(const std::string& path) const;

  // Edits (the CLI, the management API); an Error says why not.
  Status add_user(const std::string& name, std::string password_hash, std::vector<std::string> tags);
  Status delete_user(const std::string& name);
  // Changes what is given of an existing user.
  Status update_user(const std::string& name, std::optional<std::string> password_hash,
                     std::optional<std::vector<std::string>> tags);
  Status set_permissions(const std::string& user, const std::string& vhost, const std::string& configure,
                         const std::string& write, const std::string& read);
  // "no permissions ..." when the user has none in the vhost.
  Status clear_permissions(const std::string& user, const std::string& vhost);
  Status add_vhost(const std::string& name);
  Status delete_vhost(const std::string& name);

  const User* find_user(std::string_view name) const;
  bool has_vhost(std::string_view name) const { return vhosts_.contains(std::string(name)); }
  // nullptr: the user has no access to the vhost.
  const Permissions* permissions(std::string_view user, std::string_view vhost) const;

  const std::map<std::string, User>& users() const { return users_; }
  const std::set<std::string>& vhosts() const { return vhosts_; }
  const std::vector<PermissionEntry>& permission_entries() const { return permissions_; }

  // Slow (hashes): true if the user exists and the password matches. An
  // unknown user costs the same time (a dummy hash of the highest cost in
  // the store) so that timing does not tell which users exist.
  bool check_password(std::string_view user, std::string_view password) const;

 private:
  void refresh_dummy();
  std::map<std::string, User> users_;
  std::set<std::string> vhosts_;
  std::vector<PermissionEntry> permissions_;
  std::string dummy_hash_;
};

// "a, b,,c" -> {"a", "b", "c"}: comma-separated tags, spaces around each
// trimmed, empty ones dropped (`ferry user --tags`, the API's "tags" text).
std::vector<std::string> split_tags(std::string_view text);

// Whether `name` is a usable user or vhost name (1-255 bytes, no control
// characters); the Error says why not.
Status check_name(std::string_view what, std::string_view name);

}  // namespace ferry::auth
