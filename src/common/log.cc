#include "common/log.h"
#include "common/json_string.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <ctime>
#include <condition_variable>
#include <thread>
#include <vector>

namespace ferry {

namespace {

// log-format = json: one object per line, the message escaped as a JSON
// string (client values in it were already made safe by log_safe).
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    line_.clear();
    line_ += fmt::format("{{\"time\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\",\"level\":\"", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
    const auto level = spdlog::level::to_string_view(msg.level);
    line_.append(level.data(), level.size());
    line_ += "\",\"msg\":\"";
    append_json_string(line_, std::string_view(msg.payload.data(), msg.payload.size()));
    line_ += "\"}\n";
    dest.append(line_.data(), line_.data() + line_.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }

 private:
  std::string line_;
};

}  // namespace

bool init_logging(std::string_view level, bool json) {
  spdlog::level::level_enum lvl;
  if (level == "trace") lvl = spdlog::level::trace;
  else if (level == "debug") lvl = spdlog::level::debug;
  else if (level == "info") lvl = spdlog::level::info;
  else if (level == "warn") lvl = spdlog::level::warn;
  else if (level == "error") lvl = spdlog::level::err;
  else return false;
  auto logger = spdlog::stderr_logger_mt("ferry");
  if (json) logger->set_formatter(std::make_unique<JsonFormatter>());
  else logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l %v", spdlog::pattern_time_type::utc);
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return true;
}

namespace {

constexpr char kHex[] = "0123456789abcdef";

void hex_byte(std::string& out, unsigned char c) {
  out += "\\x";
  out += kHex[c >> 4];
  out += kHex[c & 0xF];
}

// Length of the valid UTF-8 sequence at s[i] (RFC 3629), 0 if none.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c == 0xE0) { n = 3; lo = 0xA0; }
  else if (c == 0xED) { n = 3; hi = 0x9F; }
  else if (c >= 0xE1 && c <= 0xEF) n = 3;
  else if (c == 0xF0) { n = 4; lo = 0x90; }
  else if (c >= 0xF1 && c <= 0xF3) n = 4;
  else if (c == 0xF4) { n = 4; hi = 0x8F; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xBF)) return 0;
  }
  return n;
}

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// The limiters whose summaries the background thread writes. Limiters are
// function statics, constructed after spdlog's registry (they log), so this
// registry (and its thread) ends before spdlog does.
class RateRegistry {
 public:
  static RateRegistry& instance() {
    static RateRegistry r;
    return r;
  }
  void add(LogRate* rate) {
    std::lock_guard lock(mutex_);
    rates_.push_back(rate);
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  }
  // A limiter leaves before it is destroyed (at exit: limiters are
  // constructed after the registry, so they are destroyed before it).
  void remove(LogRate* rate) {
    std::lock_guard lock(mutex_);
    std::erase(rates_, rate);
  }
  ~RateRegistry() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      wake_.wait_for(lock, std::chrono::seconds(1));
      if (stop_) break;
      const auto now = now_ms();
      for (LogRate* r : rates_) r->flush(now);
    }
  }

  std::mutex mutex_;  // order: before a LogRate's mutex
  std::condition_variable wake_;
  std::vector<LogRate*> rates_;  // GUARDED_BY(mutex_)
  bool stop_ = false;            // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace

std::string escape_for_log(std::string_view s) {
  std::string out;
  const std::size_t n = std::min(s.size(), kMaxLoggedValue);
  out.reserve(n + 8);
  for (std::size_t i = 0; i < n;) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F) {
      if (c == '\\') out += '\\';
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    switch (c) {
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      default: break;
    }
    const std::size_t len = c >= 0x80 ? utf8_length(s, i) : 0;
    // C1 controls (U+0080..U+009F: NEL ends a line for some readers) and
    // the Unicode line and paragraph separators are escaped too.
    const bool c1 = len == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) <= 0x9F;
    const bool separator = len == 3 && c == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                           (static_cast<unsigned char>(s[i + 2]) == 0xA8 || static_cast<unsigned char>(s[i + 2]) == 0xA9);
    if (len == 0 || c1 || separator || i + len > n) {
      const std::size_t bytes = len == 0 ? 1 : std::min(len, n - i);
      for (std::size_t k = 0; k < bytes; ++k) hex_byte(out, static_cast<unsigned char>(s[i + k]));
      i += bytes;
      continue;
    }
    out.append(s.substr(i, len));
    i += len;
  }
  if (s.size() > n) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

LogRate::LogRate(std::string_view kind, std::uint32_t per_window, std::uint64_t window_ms, bool background)
    : background_(background), kind_(kind), per_window_(per_window), window_ms_(window_ms) {
  if (background_) RateRegistry::instance().add(this);
}

LogRate::~LogRate() {
  if (background_) RateRegistry::instance().remove(this);
}

bool LogRate::allow() { return allow(now_ms()); }

void LogRate::start_window(std::uint64_t now_ms) {
  if (suppressed_ > 0)
    spdlog::warn("suppressed {} similar lines ({}) in the last {} s", suppressed_, kind_,
                 (now_ms - window_start_ + 999) / 1000);
  window_start_ = now_ms;
  written_ = 0;
  suppressed_ = 0;
}

bool LogRate::allow(std::uint64_t now_ms) {
  std::lock_guard lock(mutex_);
  if (now_ms >= window_start_ + window_ms_) start_window(now_ms);
  if (written_ < per_window_) {
    ++written_;
    return true;
  }
  ++suppressed_;
  return false;
}

std::uint64_t LogRate::flush(std::uint64_t now_ms) {
  std::lock_guard lock(mutex_);
  if (suppressed_ == 0 || now_ms < window_start_ + window_ms_) return 0;
  const std::uint64_t n = suppressed_;
  start_window(now_ms);
  return n;
}

}  // namespace ferry
