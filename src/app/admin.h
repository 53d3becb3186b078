#pragma once

#include <CLI/CLI.hpp>

#include <iosfwd>
#include <memory>
#include <optional>

namespace ferry::app {

// The admin subcommands (`ferry queues`, `ferry purge`, ...): clients of the
// management HTTP API (docs/management.md) that print human tables, or the
// API's JSON with --json.
class AdminCommands {
 public:
  // Registers the subcommands on `app`.
  explicit AdminCommands(CLI::App& app);
  ~AdminCommands();

  // After parsing: the exit code of the admin subcommand that was given
  // (0 done, 1 the API refused, 2 unreachable / bad usage), or nullopt if
  // none was. Errors go to `err`.
  std::optional<int> run(std::ostream& out, std::ostream& err);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ferry::app
