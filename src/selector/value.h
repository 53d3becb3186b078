#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ferry::selector {

// SQL's three truth values.
enum class Truth : std::uint8_t { kFalse, kTrue, kUnknown };

// What a selector expression evaluates to. A string is a view (into the
// selector or a header value) valid during one matches() call.
//
// `header` marks a string that came from a message header: STOMP headers
// are text, so such a string takes the type its use asks for (a number next
// to a number, a boolean where a condition is needed) when its text is one
// (see to_number / to_truth). A string literal keeps its type ('5' = 5 is
// false), as JMS requires.
struct Value {
  enum class Kind : std::uint8_t { kNull, kBool, kInt, kFloat, kString };
  Kind kind = Kind::kNull;
  bool header = false;
  bool b = false;
  std::int64_t i = 0;
  double d = 0;
  std::string_view s;

  static Value null() { return Value{}; }
  static Value boolean(bool v) {
    Value x;
    x.kind = Kind::kBool;
    x.b = v;
    return x;
  }
  static Value integer(std::int64_t v) {
    Value x;
    x.kind = Kind::kInt;
    x.i = v;
    return x;
  }
  static Value floating(double v) {
    Value x;
    x.kind = Kind::kFloat;
    x.d = v;
    return x;
  }
  static Value string(std::string_view v, bool from_header) {
    Value x;
    x.kind = Kind::kString;
    x.s = v;
    x.header = from_header;
    return x;
  }
  static Value truth(Truth t) { return t == Truth::kUnknown ? null() : boolean(t == Truth::kTrue); }

  bool is_null() const { return kind == Kind::kNull; }
  bool is_number() const { return kind == Kind::kInt || kind == Kind::kFloat; }
};

// The number a header's text spells: the whole text is an optional sign and
// a decimal integer (an integer when it fits in 64 bits) or a decimal
// number with fraction and/or exponent ("-12", "3.5", "1e3", ".5"); no
// spaces, no hex. nullopt otherwise.
std::optional<Value> parse_number(std::string_view text);
// A number as is; a header string through parse_number; else nullopt.
std::optional<Value> to_number(const Value& v);
// A boolean as is; a header string "true"/"false" (any case); NULL and
// anything else unknown.
Truth to_truth(const Value& v);

}  // namespace ferry::selector
