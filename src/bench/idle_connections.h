#pragma once

#include <iosfwd>

#include "bench/options.h"

namespace ferry::bench {

// Mode G (--idle-connections N): opens N STOMP connections (at most a few
// hundred handshakes at a time), each CONNECT offering heart-beat MS,MS;
// keeps them open for --hold seconds, sending heart-beat EOLs as agreed;
// reports how many connected, failed, or were dropped by the broker while
// held; then closes them all. Raises the open-file limit to its hard maximum
// first. Returns 0 when at least one connection was made, 2 otherwise.
int run_idle(const Options& options, std::ostream& out, std::ostream& err);

}  // namespace ferry::bench
