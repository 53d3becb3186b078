#include "broker/destination_pattern.h"

#include <vector>

namespace ferry::broker {

namespace {
std::vector<std::string_view> segments(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    auto slash = s.find('/', start);
    out.push_back(s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}
}  // namespace

bool matches_pattern(std::string_view pattern, std::string_view destination) {
  auto p = segments(pattern);
  auto d = segments(destination);
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == ">") return i < d.size() && !(i + 1 == d.size() && d[i].empty());
    if (i >= d.size()) return false;
    if (p[i] != "*" && p[i] != d[i]) return false;
  }
  return p.size() == d.size();
}

}  // namespace ferry::broker
