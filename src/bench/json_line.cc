#include "bench/json_line.h"

#include <cmath>
#include <cstdio>

#include "common/json_string.h"

namespace ferry::bench {
namespace {

void append_string(std::string& out, std::string_view s) {
  out += '"';
  append_json_string(out, s);
  out += '"';
}

}  // namespace

void JsonLine::key(std::string_view k) {
  if (text_.size() > 1) text_ += ',';
  append_string(text_, k);
  text_ += ':';
}

JsonLine& JsonLine::add(std::string_view k, std::string_view value) {
  key(k);
  append_string(text_, value);
  return *this;
}

JsonLine& JsonLine::add(std::string_view k, bool value) {
  key(k);
  text_ += value ? "true" : "false";
  return *this;
}

JsonLine& JsonLine::add(std::string_view k, std::int64_t value) {
  key(k);
  text_ += std::to_string(value);
  return *this;
}

JsonLine& JsonLine::add(std::string_view k, std::uint64_t value) {
  key(k);
  text_ += std::to_string(value);
  return *this;
}

JsonLine& JsonLine::add(std::string_view k, double value) {
  key(k);
  if (!std::isfinite(value)) value = 0;
  // Integers print without a fraction; others with 6 significant digits
  // after the point at most (rates and seconds do not need more).
  char buf[64];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", value);
  } else {
    std::snprintf(buf, sizeof buf, "%.6g", value);
    if (std::fabs(value) >= 1e6) std::snprintf(buf, sizeof buf, "%.1f", value);
  }
  text_ += buf;
  return *this;
}

JsonLine& JsonLine::add_raw(std::string_view k, std::string_view json) {
  key(k);
  text_ += json;
  return *this;
}

}  // namespace ferry::bench
