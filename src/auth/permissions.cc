#include "auth/permissions.h"

#include <re2/re2.h>

namespace ferry::auth {

std::string_view to_string(Access a) {
  switch (a) {
    case Access::kConfigure: return "configure";
    case Access::kWrite: return "write";
    case Access::kRead: return "read";
  }
  return "?";
}

Result<Pattern> Pattern::compile(const std::string& text) {
  Pattern p;
  p.text_ = text;
  if (text.empty()) return p;
  if (text == ".*" || text == "^.*" || text == "^.*$" || text == ".*$") {
    p.all_ = true;
    return p;
  }
  RE2::Options options;
  // Bytes, as destination names are (and as std::regex matched them): "."
  // is one byte, a name that is not UTF-8 is still matched.
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);  // the error is returned, naming the pattern
  auto re = std::make_shared<const RE2>(text, options);
  if (!re->ok()) {
    return failure("invalid regular expression '" + text + "': " + re->error() +
                   " (permission patterns are RE2 syntax, matched in linear time: no backreferences or lookaround)");
  }
  p.re_ = std::move(re);
  return p;
}

bool Pattern::matches(std::string_view destination) const {
  if (all_) return true;
  if (!re_) return false;
  // Unanchored, as RabbitMQ's. Linear in the name's length (RE2 never
  // backtracks), so any name is decided, however long.
  return RE2::PartialMatch(re2::StringPiece(destination.data(), destination.size()), *re_);
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
  Permissions p;
  p.configure = p.write = p.read = *Pattern::compile(".*");
  return p;
}

}  // namespace ferry::auth
