#include "stream/retention.h"

#include <string>

namespace ferry::stream {

Result<std::int64_t> parse_max_age(std::string_view text) {
  const auto bad = [&](std::string why) {
    return failure("invalid x-max-age", "'" + std::string(text.substr(0, 64)) + "': " + why);
  };
  if (text.size() < 2) return bad("expected a number and a unit (Y, M, D, h, m, s), e.g. 7D");
  constexpr std::int64_t kSecond = 1000, kMinute = 60 * kSecond, kHour = 60 * kMinute, kDay = 24 * kHour;
  std::int64_t unit = 0;
  switch (text.back()) {
    case 'Y': unit = 365 * kDay; break;
    case 'M': unit = 30 * kDay; break;
    case 'D': unit = kDay; break;
    case 'h': unit = kHour; break;
    case 'm': unit = kMinute; break;
    case 's': unit = kSecond; break;
    default: return bad("unknown unit (expected Y, M, D, h, m or s)");
  }
  const std::string_view digits = text.substr(0, text.size() - 1);
  constexpr std::int64_t kMaxMs = 1000 * 365 * kDay;  // far beyond any real retention
  std::int64_t n = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return bad("not a whole number");
    n = n * 10 + (c - '0');
    if (n > kMaxMs) return bad("too large");
  }
  if (n == 0) return bad("must be positive");
  if (n > kMaxMs / unit) return bad("too large");
  return n * unit;
}

}  // namespace ferry::stream
