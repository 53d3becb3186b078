#pragma once

#include <functional>
#include <string>
#include <vector>

#include "app/config.h"

namespace ferry::app {

// Reads the configuration again (SIGHUP): the options and every option's
// effective value, or the Error of a bad value.
using ConfigReload = std::function<Result<Config>(std::vector<EffectiveValue>&)>;

// Runs the broker until SIGINT/SIGTERM. Returns the process exit code.
// `effective` is how `options` came about; on SIGHUP `reload` is called and
// what can change at run time is applied (log-level, the users file), every
// other changed option is named in the log as waiting for a restart.
int serve(const Config& options, std::vector<EffectiveValue> effective, ConfigReload reload);

// `ferry serve --check-config`: checks what start-up would check without
// starting (values, the users file, the TLS files). Prints the verdict;
// returns 0 or 2.
int check_config(const Config& options, const std::string& source);

}  // namespace ferry::app
