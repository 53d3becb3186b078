#include "stomp/boolean.h"

#include "common/ascii.h"

namespace ferry::stomp {


std::optional<bool> parse_boolean(std::string_view value) {
  if (equals_ignoring_case(value, "true")) return true;
  if (equals_ignoring_case(value, "false")) return false;
  return std::nullopt;
}

}  // namespace ferry::stomp
