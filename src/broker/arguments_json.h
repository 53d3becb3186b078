#pragma once

#include <nlohmann/json.hpp>

#include <optional>

#include "broker/exchange.h"

// Exchange and binding arguments (broker::Arguments: strings, as STOMP
// headers carry them) as JSON: the management API, definitions and the
// declared-exchanges file all read and write them this one way.
namespace ferry::broker {

// {"x-match": "all", ...}
nlohmann::json arguments_to_json(const Arguments& arguments);

// An object whose values are strings, whole numbers or booleans (numbers in
// decimal, booleans as true/false); null or absent: none. nullopt: anything
// else.
std::optional<Arguments> arguments_from_json(const nlohmann::json& value);

}  // namespace ferry::broker
