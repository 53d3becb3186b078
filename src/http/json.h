#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "http/request.h"

namespace ferry::http {

using Json = nlohmann::json;

// Serialises without throwing: invalid UTF-8 becomes U+FFFD.
inline std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}
inline Response json_ok(const Json& j, unsigned status = 200) { return json_response(status, dump(j)); }

// Rates are rounded to 0.1 msg/s: what users read, and stable in tests.
inline double round_rate(double r) { return static_cast<double>(static_cast<std::int64_t>(r * 10 + 0.5)) / 10; }

}  // namespace ferry::http
