#pragma once

#include <cstdint>

#include "common/strong_id.h"
#include "common/inline_function.h"

namespace ferry::broker {

// Runs work on a shard's event loop. Tasks posted from one shard to another
// run in the order they were posted (per sender), which is what keeps one
// producer's messages in order. Implemented by shard/ (the broker never sees
// the event-loop library).
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void post(ShardId target, Task task) = 0;
  virtual std::uint32_t shard_count() const = 0;
};

}  // namespace ferry::broker
