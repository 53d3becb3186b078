#include "broker/arguments_json.h"

namespace ferry::broker {

nlohmann::json arguments_to_json(const Arguments& arguments) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : arguments) j[k] = v;
  return j;
}

std::optional<Arguments> arguments_from_json(const nlohmann::json& value) {
  Arguments out;
  if (value.is_null()) return out;
  if (!value.is_object()) return std::nullopt;
  for (const auto& [k, v] : value.items()) {
    if (v.is_string()) out.emplace(k, v.get<std::string>());
    else if (v.is_boolean()) out.emplace(k, v.get<bool>() ? "true" : "false");
    else if (v.is_number_integer() || v.is_number_unsigned()) out.emplace(k, v.dump());
    else return std::nullopt;
  }
  return out;
}

}  // namespace ferry::broker
