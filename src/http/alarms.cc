#include "http/alarms.h"

#include <algorithm>

namespace ferry::http {

std::vector<std::string> active_alarms(ApiContext& ctx, const std::vector<std::int64_t>& memory_used) {
  std::vector<std::string> alarms;
  const auto& o = ctx.options;
  const auto share = static_cast<std::int64_t>(o.memory_limit / std::max<std::uint32_t>(1, ctx.shards.shard_count()));
  for (std::int64_t used : memory_used) {
    if (share > 0 && used >= share) {
      alarms.push_back("memory");
      break;
    }
  }
  if (o.disk_limit != 0 && ctx.journal != nullptr && ctx.journal->disk_bytes() >= o.disk_limit)
    alarms.push_back("disk");
  return alarms;
}

}  // namespace ferry::http
