#include "broker/x_death.h"

#include <algorithm>
#include <charconv>

namespace ferry::broker {
namespace {

bool special(char c) { return c == '%' || c == ',' || c == ';' || c == '=' || c == '|'; }

void append_encoded(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : s) {
    if (special(c)) {
      out.push_back('%');
      out.push_back(kHex[static_cast<unsigned char>(c) >> 4]);
      out.push_back(kHex[static_cast<unsigned char>(c) & 0xF]);
    } else {
      out.push_back(c);
    }
  }
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::optional<std::string> decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

template <typename T>
bool number(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

}  // namespace

std::optional<std::vector<DeathEntry>> parse_x_death(std::string_view text) {
  std::vector<DeathEntry> deaths;
  if (text.empty()) return deaths;
  for (std::string_view table : split(text, ',')) {
    DeathEntry d;
    bool has_queue = false, has_reason = false;
    for (std::string_view field : split(table, ';')) {
      const std::size_t eq = field.find('=');
      if (eq == std::string_view::npos) return std::nullopt;
      const std::string_view key = field.substr(0, eq), value = field.substr(eq + 1);
      if (key == "count") {
        if (!number(value, d.count)) return std::nullopt;
        continue;
      }
      if (key == "time") {
        if (!number(value, d.time)) return std::nullopt;
        continue;
      }
      if (key == "routing-keys") {
        d.routing_keys.clear();
        if (!value.empty())
          for (std::string_view k : split(value, '|')) {
            auto decoded = decode(k);
            if (!decoded) return std::nullopt;
            d.routing_keys.push_back(std::move(*decoded));
          }
        continue;
      }
      auto decoded = decode(value);
      if (!decoded) return std::nullopt;
      if (key == "queue") {
        d.queue = std::move(*decoded);
        has_queue = true;
      } else if (key == "reason") {
        d.reason = std::move(*decoded);
        has_reason = true;
      } else if (key == "exchange") {
        d.exchange = std::move(*decoded);
      }  // a field a later version adds: skipped
    }
    if (!has_queue || !has_reason) return std::nullopt;
    deaths.push_back(std::move(d));
  }
  return deaths;
}

std::string format_x_death(const std::vector<DeathEntry>& deaths) {
  std::string out;
  for (const DeathEntry& d : deaths) {
    if (!out.empty()) out.push_back(',');
    out.append("queue=");
    append_encoded(out, d.queue);
    out.append(";reason=");
    append_encoded(out, d.reason);
    out.append(";count=").append(std::to_string(d.count));
    out.append(";exchange=");
    append_encoded(out, d.exchange);
    out.append(";routing-keys=");
    for (std::size_t i = 0; i < d.routing_keys.size(); ++i) {
      if (i != 0) out.push_back('|');
      append_encoded(out, d.routing_keys[i]);
    }
    out.append(";time=").append(std::to_string(d.time));
  }
  return out;
}

void record_death(std::vector<DeathEntry>& deaths, DeathEntry death) {
  auto same = std::find_if(deaths.begin(), deaths.end(),
                           [&](const DeathEntry& d) { return d.queue == death.queue && d.reason == death.reason; });
  if (same != deaths.end()) {
    DeathEntry kept = std::move(*same);
    ++kept.count;
    deaths.erase(same);
    deaths.insert(deaths.begin(), std::move(kept));
    return;
  }
  deaths.insert(deaths.begin(), std::move(death));
}

bool is_dead_letter_cycle(const std::vector<DeathEntry>& deaths, std::string_view queue) {
  for (const DeathEntry& d : deaths) {
    if (d.reason == "rejected") return false;
    if (d.queue == queue) return true;
  }
  return false;
}

}  // namespace ferry::broker
