#pragma once

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace ferry {

// One line per event on stderr: "2026-11-26T10:00:00.123Z info  text", or
// with `json` one JSON object per line for log shippers:
// {"time":"2026-11-26T10:00:00.123Z","level":"info","msg":"text"}.
// Call once at start-up; afterwards use spdlog::info(...) and friends.
// Returns false when `level` is not one of trace, debug, info, warn, error.
bool init_logging(std::string_view level, bool json = false);

// A value that came from a client (destination, transaction or
// subscription id, user name, client-id, header, path), made safe to log:
// wrap it at the call site, `spdlog::info("queue {}", log_safe(name))`.
// Control characters, a backslash, C1 controls, U+2028/U+2029 and bytes
// that are not UTF-8 are written as escapes (\n, \r, \t, \\, \xHH), so no
// value can end a log line or forge one (issue 18.6); printable UTF-8 is
// kept. Values longer than kMaxLoggedValue bytes are cut ("...(N bytes)").
// Formatting escapes; the view must stay valid until the call returns.
struct LogSafe {
  std::string_view text;
};
inline LogSafe log_safe(std::string_view s) { return {s}; }
inline constexpr std::size_t kMaxLoggedValue = 256;
// The escaped text, as log_safe formats it.
std::string escape_for_log(std::string_view s);

// Bounds the lines of one kind that clients can cause (ERROR frames sent,
// refused logins, refused connections, timeouts): at most `per_window`
// lines per `window_ms`; the rest are counted and, once the window is over,
// summed up in one line "suppressed N similar lines (KIND) in the last S s"
// (issue 18.6: unauthenticated clients wrote 172 MB of log in 22 minutes).
// One limiter per kind, for all connections and shards together:
//
//   static LogRate rate("ERROR frames sent");
//   if (rate.allow()) spdlog::info(...);
//
// Thread-safe. Limiters live as long as the program (function statics):
// a background thread writes the summaries within a second of a window's
// end even when no further line of the kind comes.
class LogRate {
 public:
  static constexpr std::uint32_t kPerWindow = 20;
  static constexpr std::uint64_t kWindowMs = 5000;

  explicit LogRate(std::string_view kind, std::uint32_t per_window = kPerWindow, std::uint64_t window_ms = kWindowMs,
                   bool background = true);
  ~LogRate();
  LogRate(const LogRate&) = delete;
  LogRate& operator=(const LogRate&) = delete;

  // True if the line may be written now; false: it was counted instead.
  bool allow();
  bool allow(std::uint64_t now_ms);
  // Writes the summary line of a finished window (if lines were
  // suppressed in it); returns how many lines it reported.
  std::uint64_t flush(std::uint64_t now_ms);

  std::string_view kind() const { return kind_; }

 private:
  void start_window(std::uint64_t now_ms);

  const bool background_;
  const std::string kind_;
  const std::uint32_t per_window_;
  const std::uint64_t window_ms_;
  std::mutex mutex_;
  std::uint64_t window_start_ = 0;  // GUARDED_BY(mutex_)
  std::uint32_t written_ = 0;       // GUARDED_BY(mutex_) lines written in this window
  std::uint64_t suppressed_ = 0;    // GUARDED_BY(mutex_) lines counted in this window
};

}  // namespace ferry

template <>
struct fmt::formatter<ferry::LogSafe> {
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }
  template <typename Context>
  auto format(const ferry::LogSafe& v, Context& ctx) const {
    const std::string s = ferry::escape_for_log(v.text);
    return std::copy(s.begin(), s.end(), ctx.out());
  }
};
