#pragma once

#include <optional>
#include <string_view>

namespace ferry::stomp {

// The protocol versions Ferry speaks. 1.0 has no header escaping; 1.1 escapes
// \n \c \\; 1.2 also escapes \r and allows CRLF line ends.
enum class Version { k1_0, k1_1, k1_2 };

std::string_view to_string(Version v);  // "1.0", "1.1", "1.2"

// Picks the highest version listed in an `accept-version` header value
// ("1.0,1.1,1.2"). An absent header means 1.0. nullopt: none supported.
std::optional<Version> negotiate(std::optional<std::string_view> accept_version);

}  // namespace ferry::stomp
