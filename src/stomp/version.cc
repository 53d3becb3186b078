#include "stomp/version.h"

namespace ferry::stomp {

std::string_view to_string(Version v) {
  switch (v) {
    case Version::k1_0: return "1.0";
    case Version::k1_1: return "1.1";
    case Version::k1_2: return "1.2";
  }
  return "?";
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<Version> parse_version(std::string_view s) {
  if (s == "1.0") return Version::k1_0;
  if (s == "1.1") return Version::k1_1;
  if (s == "1.2") return Version::k1_2;
  return std::nullopt;
}

}  // namespace

std::optional<Version> negotiate(std::optional<std::string_view> accept_version) {
  // STOMP 1.1 §"Protocol Negotiation": a CONNECT without accept-version is a
  // 1.0 client. Unknown entries (e.g. a future "1.3") are ignored.
  if (!accept_version) return Version::k1_0;
  std::optional<Version> best;
  std::string_view rest = *accept_version;
  for (;;) {
    const std::size_t comma = rest.find(',');
    if (auto v = parse_version(trim(rest.substr(0, comma))); v && (!best || *v > *best)) {
      best = v;
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return best;
}

}  // namespace ferry::stomp
