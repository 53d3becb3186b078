#pragma once

#include "common/result.h"
#include "http/json.h"
#include "http/request.h"

// RabbitMQ's management API list parameters, for every list endpoint:
//
//   sort=FIELD (dotted for nested fields: message_stats.publish),
//   sort_reverse=true, name=TEXT (items whose name contains TEXT; a regular
//   expression with use_regex=true), page=N (1-based) and page_size=M
//   (1..500, default 100), columns=a,b.c (only those fields of each item).
//
// Without `page` the answer is the (filtered, sorted) array, as before;
// with it, RabbitMQ's page object: {"items": [...], "page", "page_size",
// "page_count", "item_count", "filtered_count", "total_count"}.
namespace ferry::http {

inline constexpr std::size_t kMaxPageSize = 500;
inline constexpr std::size_t kDefaultPageSize = 100;

// `items` is a JSON array of objects. An Error (answered 400 by the caller)
// for a bad page, page_size or regular expression.
Result<Json> page_of(Json items, const Request& req);

// The list handlers' reply: page_of() answered as JSON or a 400.
Response paged(Json items, const Request& req);

}  // namespace ferry::http
