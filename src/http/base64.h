#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ferry::http {

// Standard base64 (RFC 4648, with padding): HTTP Basic credentials and
// binary message bodies in JSON.
std::string base64_encode(std::string_view bytes);
// nullopt on a character outside the alphabet or a bad length.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace ferry::http
