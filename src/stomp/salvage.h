#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace ferry::stomp {

// Best effort, for error reports only: the value of a `receipt` header in the
// header block at the start of `data` (after any heart-beat EOLs), scanning
// at most `max_bytes`. Used when a frame failed to parse (unknown command,
// bad escape, ...) so the ERROR can still carry `receipt-id`. The value is
// raw (not unescaped) and views `data`.
std::optional<std::string_view> salvage_receipt(std::span<const char> data,
                                                std::size_t max_bytes = 64 * 1024);

}  // namespace ferry::stomp
