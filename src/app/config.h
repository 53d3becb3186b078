#pragma once

#include <functional>
#include <string>
#include <vector>

#include "net/server_options.h"

namespace ferry::app {

// One `ferry serve` option: the same name on the command line (--name), in
// ferry.toml (name = ...) and in the README.
struct OptionSpec {
  std::string name;
  std::string default_value;
  std::string help;
  // Parses `value` into the options; returns an error text or "".
  std::function<std::string(net::ServerOptions&, const std::string& value)> apply;
  // A list: in TOML a list of strings, on the command line comma-separated.
  bool list = false;
};

// Every option of `ferry serve` except --config itself.
const std::vector<OptionSpec>& option_specs();

// Applies defaults, then the TOML file (if `config_path` is not empty), then
// the command-line values given (name -> value). Throws std::runtime_error
// with a message naming the option and the source on a bad value.
net::ServerOptions load_options(const std::string& config_path,
                                const std::vector<std::pair<std::string, std::string>>& cli_values);

// "16MiB" -> 16777216. Accepts B, K/KB/KiB, M/MB/MiB, G/GB/GiB (binary).
bool parse_size(const std::string& text, std::uint64_t& out);

}  // namespace ferry::app
