#include "auth/permissions.h"

namespace ferry::auth {

namespace {

// libstdc++'s regex matcher recurses once per character: a bound on what is
// matched keeps a long name from exhausting a shard's stack. Longer names
// are denied (destination names this long are not used in practice).
constexpr std::size_t kMaxMatchedLength = 4096;

}  // namespace

std::string_view to_string(Access a) {
  switch (a) {
    case Access::kConfigure: return "configure";
    case Access::kWrite: return "write";
    case Access::kRead: return "read";
  }
  return "?";
}

std::optional<Pattern> Pattern::compile(const std::string& text, std::string& error) {
  Pattern p;
  p.text_ = text;
  if (text.empty()) return p;
  if (text == ".*" || text == "^.*" || text == "^.*$" || text == ".*$") {
    p.all_ = true;
    return p;
  }
  try {
    p.re_ = std::make_shared<const std::regex>(text, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error& e) {
    error = "invalid regular expression '" + text + "': " + e.what();
    return std::nullopt;
  }
  return p;
}

bool Pattern::matches(std::string_view destination) const {
  if (all_) return true;
  if (!re_ || destination.size() > kMaxMatchedLength) return false;
  try {
    return std::regex_search(destination.begin(), destination.end(), *re_);
  } catch (const std::regex_error&) {
    return false;  // too complex to decide: deny
  }
}

bool Permissions::allows(Access a, std::string_view destination) const {
  switch (a) {
    case Access::kConfigure: return configure.matches(destination);
    case Access::kWrite: return write.matches(destination);
    case Access::kRead: return read.matches(destination);
  }
  return false;
}

Permissions Permissions::full() {
  std::string error;
  Permissions p;
  p.configure = p.write = p.read = *Pattern::compile(".*", error);
  return p;
}

}  // namespace ferry::auth
