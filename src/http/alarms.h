#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "http/context.h"

namespace ferry::http {

// The resource alarms in effect, with RabbitMQ's names: "memory" (a shard
// at its share of memory-limit holds publishers back or refuses them) and
// "disk" (disk-limit reached: persistent messages are refused).
// `memory_used`: every shard's figure (ShardBroker::memory_used). Shard 0.
std::vector<std::string> active_alarms(ApiContext& ctx, const std::vector<std::int64_t>& memory_used);

}  // namespace ferry::http
