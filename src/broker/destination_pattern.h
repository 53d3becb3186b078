#pragma once

#include <string_view>

namespace ferry::broker {

// ActiveMQ-style destination wildcards over '/'-separated names: `*` matches
// exactly one segment, `>` matches one or more trailing segments.
// "/queue/>" matches "/queue/orders" and "/queue/a/b"; "/queue/*.x" does not
// treat '.' specially (whole segments only).
bool matches_pattern(std::string_view pattern, std::string_view destination);

}  // namespace ferry::broker
