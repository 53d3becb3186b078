#include "selector/value.h"

#include "common/ascii.h"

#include <cerrno>
#include <cstdlib>
#include <string>

namespace ferry::selector {

std::optional<Value> parse_number(std::string_view text) {
  std::size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  std::size_t int_digits = 0, frac_digits = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i, ++int_digits;
  bool is_float = false;
  if (i < text.size() && text[i] == '.') {
    is_float = true;
    ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return std::nullopt;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    is_float = true;
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    std::size_t exp_digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;
  const std::string copy(text);  // strtoll/strtod need a terminated string
  if (!is_float) {
    errno = 0;
    const long long v = std::strtoll(copy.c_str(), nullptr, 10);
    if (errno == 0) return Value::integer(v);
  }
  return Value::floating(std::strtod(copy.c_str(), nullptr));
}

std::optional<Value> to_number(const Value& v) {
  if (v.is_number()) return v;
  if (v.kind == Value::Kind::kString && v.header) return parse_number(v.s);
  return std::nullopt;
}


Truth to_truth(const Value& v) {
  if (v.kind == Value::Kind::kBool) return v.b ? Truth::kTrue : Truth::kFalse;
  if (v.kind == Value::Kind::kString && v.header) {
    if (equals_ignoring_case(v.s, "true")) return Truth::kTrue;
    if (equals_ignoring_case(v.s, "false")) return Truth::kFalse;
  }
  return Truth::kUnknown;
}

}  // namespace ferry::selector
