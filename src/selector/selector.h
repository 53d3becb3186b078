#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "common/result.h"
#include "selector/header_lookup.h"

namespace ferry::selector {

struct Node;

// The ERROR message of a selector that does not parse: kInvalidSelector +
// " at position N" (1-based characters; PHP's Stomp::error() shows only the
// message), with what is wrong there as the detail ("expected ')', found end
// of selector at position 17").
inline constexpr std::string_view kInvalidSelector = "invalid selector";

// A JMS message selector (the SQL-92 subset of JMS 1.1 §3.8, as ActiveMQ
// and Artemis accept it), compiled once and matched against each message.
// The grammar, the JMS header names, the number rule and the limits are in
// docs/dialects.md ("Selectors").
//
// Immutable after parse(): one Selector may be shared (shared_ptr) and
// matched from any thread.
class Selector {
 public:
  // Selectors longer than this are refused (a SUBSCRIBE header, not a program).
  static constexpr std::size_t kMaxLength = 4096;
  // Parentheses, NOT and unary signs nest at most this deep, and an
  // expression tree is at most kMaxHeight high, so neither parsing nor
  // matching can run out of stack.
  static constexpr std::size_t kMaxDepth = 64;
  static constexpr std::size_t kMaxHeight = 256;

  // An empty (or all-blank) text is no selector: a null one, as JMS says
  // ("treated as a null" selector). An Error as kInvalidSelector says.
  static Result<std::shared_ptr<const Selector>> parse(std::string_view text);

  // True only when the selector is TRUE for the message (FALSE and UNKNOWN
  // do not match).
  bool matches(const HeaderLookup& headers) const;
  template <typename Fn>
  bool matches_fn(Fn&& fn) const {
    LookupFn<std::remove_reference_t<Fn>> lookup(fn);
    return matches(lookup);
  }
  const std::string& text() const { return text_; }

  ~Selector();
  Selector(std::string text, std::unique_ptr<Node> root);

 private:
  std::string text_;
  std::unique_ptr<Node> root_;
};

}  // namespace ferry::selector
