#pragma once

#include "net/server_options.h"

namespace ferry::app {

// Runs the broker until SIGINT/SIGTERM. Returns the process exit code.
int serve(const net::ServerOptions& options);

}  // namespace ferry::app
