#include "session/composite_destination.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "session/errors.h"

namespace ferry::session {

namespace {

// The forms whose prefix an unprefixed element inherits (ActiveMQ's and
// Ferry's; a longer one first where one is a prefix of another).
constexpr std::array<std::string_view, 8> kPrefixes = {
    "/queue/",      "/topic/",       "/temp-queue/",         "/temp-topic/",
    "/stream/",     "/reply-queue/", "/remote-temp-queue/", "/remote-temp-topic/",
};

std::string_view prefix_of(std::string_view first) {
  for (std::string_view p : kPrefixes)
    if (first.starts_with(p)) return p;
  return {};
}

}  // namespace

bool is_composite_destination(std::string_view text) {
  return text.find(',') != std::string_view::npos && !text.starts_with("/exchange/");
}

Result<std::vector<std::string>> split_composite_destination(std::string_view text, std::size_t max) {
  const std::size_t count = static_cast<std::size_t>(std::count(text.begin(), text.end(), ',')) + 1;
  if (count > max)
    return failure(std::string(errors::kCompositeTooLarge),
                   fmt::format("'{:.200}' has {} elements; at most {} (max-composite-destinations)", text, count, max));
  std::vector<std::string> out;
  out.reserve(count);
  std::string_view prefix;
  std::size_t start = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    std::string_view element = text.substr(start, comma - start);
    start = comma + 1;
    if (element.empty())
      return failure(std::string(errors::kUnknownDestination),
                     fmt::format("'{:.200}': element {} of the composite destination is empty", text, i + 1));
    if (i == 0) prefix = prefix_of(element);
    if (element.starts_with('/')) out.emplace_back(element);
    else out.emplace_back(std::string(prefix).append(element));
  }
  return out;
}

}  // namespace ferry::session
