#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "common/result.h"

// `ferry user add|change-password|set-tags|delete|list|set-permissions|
// clear-permissions` and `ferry vhost add|delete|list`: edit the users file
// (docs/security.md) under its lock. A running broker re-reads the file
// within a second.
namespace ferry::app {

class UserCommands {
 public:
  // Adds the `user` and `vhost` subcommands to `app`.
  explicit UserCommands(CLI::App& app);
  // True if one of them was given on the command line.
  bool parsed() const;
  // Runs the one given: the exit status (its output on stdout/stderr), or
  // the Error that stopped it (main prints it and exits 1).
  Result<int> run();

 private:
  Result<std::string> users_file() const;
  CLI::App* user_ = nullptr;
  CLI::App* vhost_ = nullptr;
  CLI::App *user_add_ = nullptr, *user_delete_ = nullptr, *user_list_ = nullptr, *user_perms_ = nullptr;
  CLI::App *user_password_ = nullptr, *user_tags_ = nullptr, *user_clear_ = nullptr;
  CLI::App *vhost_add_ = nullptr, *vhost_delete_ = nullptr, *vhost_list_ = nullptr;
  std::string users_file_, config_ = "ferry.toml";
  std::string name_, password_, tags_, vhost_name_ = "/", configure_, write_, read_;
  bool password_given_ = false;
  std::uint32_t iterations_ = 0;
};

}  // namespace ferry::app
