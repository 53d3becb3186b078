#pragma once

#include <CLI/CLI.hpp>

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"

namespace ferry::app {

// The admin subcommands (`ferry queues`, `ferry purge`, ...): clients of the
// management HTTP API (docs/management.md) that print human tables, or the
// API's JSON with --json.
class AdminCommands {
 public:
  // Registers the subcommands on `app`.
  explicit AdminCommands(CLI::App& app);
  ~AdminCommands();

  // After parsing: nullopt if no admin subcommand was given; else its exit
  // code (0 done, 1 the API refused; the API's answer goes to `err`), or the
  // Error that stopped it (unreachable, a bad --http; main reports it as
  // "ferry NAME: ..." and exits 1).
  std::optional<Result<int>> run(std::ostream& out, std::ostream& err);
  // The admin subcommand given ("queues", ...), "" if none.
  std::string name() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ferry::app
