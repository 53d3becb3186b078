#pragma once

#include <iosfwd>

#include "bench/options.h"

namespace ferry::bench {

// The default mode: consumers subscribe (and are confirmed) first, then the
// producers send for --duration seconds or --count messages each; consumers
// wait up to --drain-timeout for the rest. Prints the human summary and the
// JSON line to `out`, problems to `err`. Returns the process exit code:
// 0 when the run completed (losses are reported, not failures), 2 when the
// broker could not be reached or refused the setup.
//
// Threads: one loop for all producers, one for all consumers, and the
// caller's thread, which only waits and reports.
int run_load(const Options& options, std::ostream& out, std::ostream& err);

}  // namespace ferry::bench
