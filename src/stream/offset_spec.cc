#include "stream/offset_spec.h"

#include <string>

#include "stream/retention.h"

namespace ferry::stream {

namespace {

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

}  // namespace

Result<OffsetSpec> parse_offset_spec(std::string_view text, std::int64_t now_ms) {
  if (text == "first") return OffsetSpec::first();
  if (text == "last") return OffsetSpec::last();
  if (text == "next") return OffsetSpec::next();
  std::uint64_t n = 0;
  if (parse_u64(text, n)) return OffsetSpec::offset(StreamOffset{n});
  constexpr std::string_view kTimestamp = "timestamp=";
  if (text.starts_with(kTimestamp)) {
    // Seconds, as RabbitMQ; bounded so that the milliseconds fit.
    if (!parse_u64(text.substr(kTimestamp.size()), n) || n > static_cast<std::uint64_t>(INT64_MAX / 1000))
      return failure("invalid x-stream-offset", "'" + std::string(text.substr(0, 64)) +
                                                    "': timestamp= takes seconds since the epoch");
    return OffsetSpec::timestamp(static_cast<std::int64_t>(n) * 1000);
  }
  auto age = parse_max_age(text);
  if (!age)
    return failure("invalid x-stream-offset",
                   "'" + std::string(text.substr(0, 64)) +
                       "': expected first, last, next, an offset, timestamp=<seconds> or an interval such as 1h");
  return OffsetSpec::timestamp(now_ms - *age);
}

}  // namespace ferry::stream
