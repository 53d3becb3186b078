// libFuzzer target for the JMS selector parser and matcher (selector/).
//
// The input is a selector. Whatever it is, parse() must return (no crash,
// no stack overflow: length and nesting are bounded), an error must carry a
// position inside the text (or just past it), and a selector that parses is
// matched against a few fixed header sets, which must not crash or hang
// (LIKE has no exponential backtracking). The text is copied into a heap
// buffer of exactly its size so that ASan catches a read past its end.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <optional>
#include <string_view>
#include <utility>

#include "selector/selector.h"

namespace {

using ferry::selector::Selector;

using Header = std::pair<std::string_view, std::string_view>;
constexpr Header kOrder[] = {{"type", "order"},      {"priority", "7"},   {"region", "eu"},
                             {"name", "alice"},      {"price", "12.5"},   {"persistent", "true"},
                             {"flag", "TRUE"},       {"n", "-3"},         {"correlation-id", "c-1"},
                             {"text", "a%b_c\\d''"}, {"big", "1e308"},    {"min", "-9223372036854775808"}};
constexpr Header kOdd[] = {{"type", ""}, {"priority", "x"}, {"name", "\xC3\xA9\xE2\x82\xAC%"}, {"n", "0"}};

template <std::size_t N>
bool run(const Selector& s, const Header (&headers)[N]) {
  return s.matches_fn([&](std::string_view name) -> std::optional<std::string_view> {
    for (const auto& [k, v] : headers)
      if (k == name) return v;
    return std::nullopt;
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto buf = std::make_unique<char[]>(size == 0 ? 1 : size);
  if (size != 0) std::memcpy(buf.get(), data, size);
  const std::string_view text(buf.get(), size);
  auto r = Selector::parse(text);
  if (!r.ok()) {
    // "invalid selector at position N", N within the text (or just past it),
    // and the detail ending with the same position.
    const auto& e = r.error();
    const std::string prefix = std::string(ferry::selector::kInvalidSelector) + " at position ";
    std::size_t position = 0;
    if (e.message.rfind(prefix, 0) == 0) position = std::strtoul(e.message.c_str() + prefix.size(), nullptr, 10);
    const std::string suffix = " at position " + std::to_string(position);
    if (position == 0 || position > text.size() + 1 || e.detail.size() < suffix.size() ||
        e.detail.compare(e.detail.size() - suffix.size(), suffix.size(), suffix) != 0) {
      std::fprintf(stderr, "selector_fuzz: bad error: %s\n", e.text().c_str());
      std::abort();
    }
    return 0;
  }
  if (r.value() == nullptr) return 0;  // blank: no selector
  (void)run(*r.value(), kOrder);
  (void)run(*r.value(), kOdd);
  const Header none[] = {{"", ""}};
  (void)run(*r.value(), none);
  return 0;
}
