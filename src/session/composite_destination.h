#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ferry::session {

// ActiveMQ's composite destinations: a SEND to `/queue/a,/queue/b,/topic/c`
// goes to each element (docs/dialects.md, "Composite destinations"). An
// element without a leading '/' takes the first element's prefix, as
// ActiveMQ reads it (`/queue/a,b` = `/queue/a` and `/queue/b`; bare `a,b`
// stays two bare names). RabbitMQ's `/exchange/NAME/KEY` is never composite:
// a routing key may hold commas.
bool is_composite_destination(std::string_view text);

// The elements of a composite destination, each as a full destination text
// (prefix applied). At most `max` elements (max-composite-destinations);
// more, or an empty element, is an Error naming the problem.
Result<std::vector<std::string>> split_composite_destination(std::string_view text, std::size_t max);

}  // namespace ferry::session
