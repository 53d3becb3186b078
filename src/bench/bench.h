#pragma once

#include <iosfwd>

#include "bench/options.h"

namespace ferry::bench {

// `ferry bench`: runs the mode the options select (load run, idle
// connections or TCP ceiling) and returns the process exit code. `options`
// must have passed validate().
int run(const Options& options, std::ostream& out, std::ostream& err);

}  // namespace ferry::bench
