#include "mqtt/topic.h"

#include <algorithm>
#include <cstddef>

namespace ferry::mqtt {

ReasonCode check_topic_name(std::string_view name) {
  if (name.empty()) return ReasonCode::kTopicNameInvalid;
  if (name.find_first_of("+#") != std::string_view::npos) return ReasonCode::kTopicNameInvalid;
  return ReasonCode::kSuccess;
}

namespace {

// Checks the wildcard placement of a plain filter (spec 4.7.1).
bool check_filter_levels(std::string_view f, bool& has_wildcard) {
  if (f.empty()) return false;
  has_wildcard = false;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = f.find('/', start);
    const bool last = slash == std::string_view::npos;
    const std::string_view level = f.substr(start, last ? std::string_view::npos : slash - start);
    if (level.find_first_of("+#") != std::string_view::npos) {
      if (level.size() != 1) return false;         // "a+", "#b"
      if (level == "#" && !last) return false;     // "#/a"
      has_wildcard = true;
    }
    if (last) return true;
    start = slash + 1;
  }
}

}  // namespace

ReasonCode parse_topic_filter(std::string_view text, TopicFilter& out) {
  out = TopicFilter{};
  constexpr std::string_view kShare = "$share/";
  std::string_view f = text;
  if (text.substr(0, kShare.size()) == kShare) {
    const std::string_view rest = text.substr(kShare.size());
    const std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) return ReasonCode::kTopicFilterInvalid;
    const std::string_view group = rest.substr(0, slash);
    if (group.find_first_of("+#") != std::string_view::npos) return ReasonCode::kTopicFilterInvalid;
    out.share_group = group;
    f = rest.substr(slash + 1);
  }
  bool wild = false;
  if (!check_filter_levels(f, wild)) {
    out = TopicFilter{};
    return ReasonCode::kTopicFilterInvalid;
  }
  out.filter = f;
  out.has_wildcard = wild;
  return ReasonCode::kSuccess;
}

bool topic_matches(std::string_view filter, std::string_view name) {
  if (!name.empty() && name[0] == '$' && !filter.empty() && (filter[0] == '+' || filter[0] == '#')) {
    return false;
  }
  std::size_t fi = 0;
  std::size_t ni = 0;
  for (;;) {
    const std::size_t fe = std::min(filter.find('/', fi), filter.size());
    const std::string_view flevel = filter.substr(fi, fe - fi);
    if (flevel == "#") return true;  // matches the parent level too ("a/#" matches "a")
    if (ni > name.size()) return false;
    const std::size_t ne = std::min(name.find('/', ni), name.size());
    if (flevel != "+" && flevel != name.substr(ni, ne - ni)) return false;
    const bool fend = fe == filter.size();
    const bool nend = ne == name.size();
    if (fend && nend) return true;
    if (fend) return false;
    if (nend) {
      // The name ended; only a trailing "/#" may still match.
      return filter.substr(fe + 1) == "#";
    }
    fi = fe + 1;
    ni = ne + 1;
  }
}

}  // namespace ferry::mqtt
