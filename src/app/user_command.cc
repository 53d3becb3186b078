#include "app/user_command.h"

#include <termios.h>
#include <unistd.h>

#include <toml++/toml.h>

#include <filesystem>
#include <iostream>

#include "auth/password_hash.h"
#include "auth/user_store.h"
#include "auth/users_file_lock.h"

namespace ferry::app {

namespace {

// A line from the terminal without echo, or from stdin when it is not one.
std::string read_password(bool tty) {
  std::string line;
  if (!tty) {
    std::getline(std::cin, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  termios old {};
  ::tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::getline(std::cin, line);
  ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
  std::cerr << "\n";
  return line;
}

}  // namespace

UserCommands::UserCommands(CLI::App& app) {
  auto common = [this](CLI::App* c) {
    c->add_option("--users-file", users_file_, "users file (default: users-file of --config)");
    c->add_option("--config", config_, "ferry.toml to take users-file from")->capture_default_str();
  };
  user_ = app.add_subcommand("user", "manage users of the users file (a running broker re-reads it within a second)");
  user_->require_subcommand(1);
  user_add_ = user_->add_subcommand("add", "add a user (password from --password, a prompt, or stdin)");
  user_add_->add_option("name", name_, "user name")->required();
  user_add_->add_option("--password", password_, "password (default: prompt, or one line of stdin)");
  user_add_->add_option("--tags", tags_, "comma-separated tags (administrator, monitoring, ...)");
  user_add_->add_option("--iterations", iterations_, "PBKDF2 iterations (cost; default 100000)");
  common(user_add_);
  user_password_ = user_->add_subcommand("change-password", "set a user's password (from --password, a prompt, or stdin)");
  user_password_->add_option("name", name_, "user name")->required();
  user_password_->add_option("--password", password_, "password (default: prompt, or one line of stdin)");
  user_password_->add_option("--iterations", iterations_, "PBKDF2 iterations (cost; default 100000)");
  common(user_password_);
  user_tags_ = user_->add_subcommand("set-tags", "replace a user's tags (administrator, management, monitoring, ...)");
  user_tags_->add_option("name", name_, "user name")->required();
  user_tags_->add_option("--tags", tags_, "comma-separated tags; \"\" for none")->required();
  common(user_tags_);
  user_delete_ = user_->add_subcommand("delete", "delete a user and its permissions");
  user_delete_->add_option("name", name_, "user name")->required();
  common(user_delete_);
  user_list_ = user_->add_subcommand("list", "list users, their tags and permissions");
  common(user_list_);
  user_perms_ = user_->add_subcommand("set-permissions", "grant a user configure/write/read patterns in a vhost");
  user_perms_->add_option("name", name_, "user name")->required();
  user_perms_->add_option("--vhost", vhost_name_, "vhost")->capture_default_str();
  user_perms_->add_option("--configure", configure_, "regex of destinations the user may create/delete")->required();
  user_perms_->add_option("--write", write_, "regex of destinations the user may SEND to")->required();
  user_perms_->add_option("--read", read_, "regex of destinations the user may SUBSCRIBE to")->required();
  common(user_perms_);
  user_clear_ = user_->add_subcommand("clear-permissions", "remove a user's grants in a vhost");
  user_clear_->add_option("name", name_, "user name")->required();
  user_clear_->add_option("--vhost", vhost_name_, "vhost")->capture_default_str();
  common(user_clear_);

  vhost_ = app.add_subcommand("vhost", "manage vhosts of the users file (a running broker re-reads it within a second)");
  vhost_->require_subcommand(1);
  vhost_add_ = vhost_->add_subcommand("add", "add a vhost");
  vhost_add_->add_option("name", vhost_name_, "vhost name")->required();
  common(vhost_add_);
  vhost_delete_ = vhost_->add_subcommand("delete", "delete a vhost and its permissions (not its messages)");
  vhost_delete_->add_option("name", vhost_name_, "vhost name")->required();
  common(vhost_delete_);
  vhost_list_ = vhost_->add_subcommand("list", "list vhosts");
  common(vhost_list_);
}

bool UserCommands::parsed() const { return user_->parsed() || vhost_->parsed(); }

Result<std::string> UserCommands::users_file() const {
  if (!users_file_.empty()) return users_file_;
  if (!config_.empty() && std::filesystem::exists(config_)) {
    toml::table t;
    try {
      t = toml::parse_file(config_);
    } catch (const toml::parse_error& e) {  // toml++ throws: its boundary
      return failure(config_, std::string(e.description()));
    }
    if (auto v = t["users-file"].value<std::string>(); v && !v->empty()) return *v;
  }
  return failure("no users file: pass --users-file PATH, or set users-file in ferry.toml");
}

Result<int> UserCommands::run() {
  const auto users_file_path = users_file();
  if (!users_file_path) return users_file_path.error();
  const std::string& path = *users_file_path;
  const bool listing = user_list_->parsed() || vhost_list_->parsed();
  // The password first: the lock is not held while someone types.
  std::string hash;
  if (user_add_->parsed() || user_password_->parsed()) {
    const char* what = user_add_->parsed() ? "ferry user add" : "ferry user change-password";
    if (user_add_->count("--password") == 0 && user_password_->count("--password") == 0) {
      const bool tty = ::isatty(STDIN_FILENO) != 0;
      if (tty) std::cerr << "Password for " << name_ << ": ";
      password_ = read_password(tty);
      if (tty) {
        std::cerr << "Again: ";
        if (read_password(tty) != password_) {
          std::cerr << what << ": the passwords differ\n";
          return 1;
        }
      }
    }
    if (password_.empty()) {
      std::cerr << what << ": empty password\n";
      return 1;
    }
    const std::uint32_t cost = iterations_ == 0 ? auth::kDefaultIterations : iterations_;
    if (cost < auth::kMinIterations || cost > auth::kMaxIterations) {
      std::cerr << what << ": --iterations must be from " << auth::kMinIterations << " to "
                << auth::kMaxIterations << "\n";
      return 1;
    }
    auto hashed = auth::hash_password(password_, cost);
    if (!hashed) return hashed.error();
    hash = std::move(*hashed);
  }
  // Read-modify-write under the lock a running broker's edits take too.
  std::optional<auth::UsersFileLock> lock;
  if (!listing) {
    auto locked = auth::UsersFileLock::acquire(path);
    if (!locked) return locked.error();
    lock.emplace(std::move(*locked));
  }
  // A file that does not exist yet starts as the built-in configuration
  // (guest with full permissions on "/"), as a fresh RabbitMQ does.
  auto loaded = auth::UserStore::load_or_seed(path);
  if (!loaded) return loaded.error();
  auth::UserStore& store = *loaded;
  Status error;
  if (user_add_->parsed()) {
    error = store.add_user(name_, std::move(hash), auth::split_tags(tags_));
  } else if (user_password_->parsed()) {
    error = store.update_user(name_, std::move(hash), std::nullopt);
  } else if (user_tags_->parsed()) {
    error = store.update_user(name_, std::nullopt, auth::split_tags(tags_));
  } else if (user_delete_->parsed()) {
    error = store.delete_user(name_);
  } else if (user_perms_->parsed()) {
    error = store.set_permissions(name_, vhost_name_, configure_, write_, read_);
  } else if (user_clear_->parsed()) {
    error = store.clear_permissions(name_, vhost_name_);
  } else if (vhost_add_->parsed()) {
    error = store.add_vhost(vhost_name_);
  } else if (vhost_delete_->parsed()) {
    error = store.delete_vhost(vhost_name_);
  } else if (user_list_->parsed()) {
    for (const auto& [name, u] : store.users()) {
      std::cout << name;
      if (!u.tags.empty()) {
        std::cout << " [";
        for (std::size_t i = 0; i < u.tags.size(); ++i) std::cout << (i ? "," : "") << u.tags[i];
        std::cout << "]";
      }
      std::cout << "\n";
      for (const auth::PermissionEntry& e : store.permission_entries())
        if (e.user == name)
          std::cout << "  vhost " << e.vhost << ": configure '" << e.configure << "' write '" << e.write
                    << "' read '" << e.read << "'\n";
    }
    return 0;
  } else if (vhost_list_->parsed()) {
    for (const std::string& v : store.vhosts()) std::cout << v << "\n";
    return 0;
  }
  if (!error) return error.error();
  if (Status saved = store.save(path); !saved) return saved.error();
  std::cerr << "ferry: " << path << " updated (a running broker applies it within a second)\n";
  return 0;
}

}  // namespace ferry::app
