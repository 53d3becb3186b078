#pragma once

#include <string>
#include <string_view>

namespace ferry {

// Appends `text` as the inside of a JSON string (no quotes): `"` and `\`
// escaped, control characters as \n, \r, \t or \u00XX; other bytes as they
// are (the caller's text is UTF-8, or was made safe before).
void append_json_string(std::string& out, std::string_view text);

}  // namespace ferry
