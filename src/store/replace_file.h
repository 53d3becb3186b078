#pragma once

#include <span>
#include <string>

#include "store/env.h"

namespace ferry::store {

// Replaces the file at `path` with `data` atomically: written to
// `path.tmp`, then renamed over `path`, so a crash leaves the old file or
// the new one, never half of one. `durable`: the data is fdatasync'ed before
// the rename and the directory `dir` after it, so the new file survives a
// power loss once this returns (files that record state: declared queues,
// exchanges); without, a cache that can be rebuilt (a stream's indexes).
// On failure the temporary file is removed and `path` is as it was.
IoStatus replace_file(Env& env, const std::string& path, const std::string& dir, std::span<const char> data,
                      bool durable);

}  // namespace ferry::store
