#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ferry::selector {

// A compiled LIKE pattern: `%` any sequence (also empty), `_` exactly one
// character (one UTF-8 code point), everything else itself; with an escape
// character, escape + c is c taken literally.
//
// Matching is the two-pointer wildcard algorithm: on a mismatch it goes
// back only to the last `%`, so it costs at most O(text x pattern) steps,
// never the exponential backtracking of a naive recursive matcher.
class LikePattern {
 public:
  // An Error: an escape character at the end of the pattern. `escape` is
  // empty (none) or one character.
  static Result<LikePattern> compile(std::string_view pattern, std::optional<char32_t> escape);
  bool matches(std::string_view text) const;

 private:
  enum class Kind : std::uint8_t { kByte, kOne, kMany };
  struct Elem {
    Kind kind;
    char byte;
  };
  std::vector<Elem> elems_;
};

}  // namespace ferry::selector
