#include "stomp/salvage.h"

#include <algorithm>

namespace ferry::stomp {

std::optional<std::string_view> salvage_receipt(std::span<const char> data, std::size_t max_bytes) {
  std::string_view text(data.data(), std::min(data.size(), max_bytes));
  std::size_t pos = 0;
  while (pos < text.size() && (text[pos] == '\n' || text[pos] == '\r')) ++pos;
  // Skip the command line.
  std::size_t eol = text.find('\n', pos);
  if (eol == std::string_view::npos) return std::nullopt;
  pos = eol + 1;
  while (pos < text.size()) {
    eol = text.find('\n', pos);
    if (eol == std::string_view::npos) return std::nullopt;
    std::string_view line = text.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.find('\0') != std::string_view::npos) return std::nullopt;
    if (line.starts_with("receipt:")) return line.substr(8);
    pos = eol + 1;
  }
  return std::nullopt;
}

}  // namespace ferry::stomp
