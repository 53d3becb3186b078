#include "broker/schedule.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace ferry::broker {
namespace {

// Far enough for any real schedule, small enough that sums cannot overflow.
constexpr std::int64_t kMaxMs = std::int64_t{1} << 52;

std::optional<std::int64_t> parse_ms(std::string_view v) {
  std::int64_t out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size() || out < 0) return std::nullopt;
  return std::min(out, kMaxMs);
}

Error bad(std::string_view name, std::string_view value, std::string_view want) {
  return failure("invalid scheduling header", fmt::format("{}:{} ({})", name, value, want));
}

}  // namespace

bool is_scheduling_header(std::string_view name) {
  if (name.empty() || (name[0] != 'A' && name[0] != 'x' && name[0] != 'd')) return false;
  return name == "AMQ_SCHEDULED_DELAY" || name == "AMQ_SCHEDULED_PERIOD" || name == "AMQ_SCHEDULED_REPEAT" ||
         name == "AMQ_SCHEDULED_CRON" || name == "x-delay" || name == "delay" || name == kDeliverAtHeader;
}

std::int64_t Schedule::due(std::int64_t now_ms, std::uint32_t i) const {
  const std::int64_t first = std::max(now_ms + delay_ms, at_ms);
  return first + period_ms * static_cast<std::int64_t>(i);
}

Result<std::optional<Schedule>> schedule_of(std::span<const std::pair<std::string, std::string>> headers,
                                            std::uint64_t max_copies) {
  std::optional<Schedule> s;
  for (const auto& [name, value] : headers) {
    // One pass, and a cheap first test: almost every SEND has none of these.
    if (!is_scheduling_header(name)) continue;
    if (name == "AMQ_SCHEDULED_CRON")
      return failure("unsupported header", "AMQ_SCHEDULED_CRON (cron schedules are not supported; use "
                                           "AMQ_SCHEDULED_DELAY, AMQ_SCHEDULED_PERIOD and AMQ_SCHEDULED_REPEAT)");
    const bool delay = name == "AMQ_SCHEDULED_DELAY" || name == "x-delay" || name == "delay";
    const bool period = name == "AMQ_SCHEDULED_PERIOD";
    const bool repeat = name == "AMQ_SCHEDULED_REPEAT";
    const bool at = name == kDeliverAtHeader;
    if (!delay && !period && !repeat && !at) continue;
    auto v = parse_ms(value);
    if (!v) {
      if (repeat && value == "-1")
        return failure("unsupported header", "AMQ_SCHEDULED_REPEAT:-1 (endless repetition is not supported)");
      return bad(name, value, "a whole number >= 0");
    }
    if (!s) s.emplace();
    if (delay) s->delay_ms = std::max(s->delay_ms, *v);
    if (at) s->at_ms = std::max(s->at_ms, *v);
    if (period) s->period_ms = *v;
    if (repeat) {
      if (static_cast<std::uint64_t>(*v) >= max_copies)
        return failure("scheduled message limit reached",
                       fmt::format("AMQ_SCHEDULED_REPEAT:{} asks for more scheduled messages than "
                                   "max-scheduled-messages ({}) allows",
                                   value, max_copies));
      s->repeat = static_cast<std::uint32_t>(*v);
    }
  }
  // A period alone repeats nothing: AMQ_SCHEDULED_REPEAT says how often
  // (as in ActiveMQ).
  return s;
}

void stamp_due(Message& m, std::int64_t due_ms) {
  m.deliver_at_ms = due_ms;
  std::string text = std::to_string(due_ms);
  for (auto& [name, value] : m.headers) {
    if (name == kDeliverAtHeader) {
      value = std::move(text);
      return;
    }
  }
  m.headers.emplace_back(std::string(kDeliverAtHeader), std::move(text));
}

std::int64_t deliver_at_of(std::span<const std::pair<std::string, std::string>> headers) {
  for (const auto& [name, value] : headers)
    if (name == kDeliverAtHeader) return parse_ms(value).value_or(0);
  return 0;
}

}  // namespace ferry::broker
