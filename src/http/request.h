#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "http/authenticator.h"

namespace ferry::http {

// Which vhosts a management user sees: all (administrator, monitoring), or
// only those they have permissions in (a `management` user, as in RabbitMQ).
struct VhostFilter {
  std::optional<std::set<std::string>> only;  // nullopt: every vhost
  bool sees(const std::string& vhost) const { return !only || only->contains(vhost); }
};

// A parsed request as handlers see it: the path split at '/' and each
// segment percent-decoded (so "%2F" in a vhost is a '/').
struct Request {
  std::string method;                       // "GET", ...
  std::string path;                         // raw path, without the query
  std::vector<std::string> segments;        // decoded: "/api/queues/%2F/a" -> api, queues, /, a
  std::map<std::string, std::string> query; // decoded
  std::string body;
  Peer peer;
  std::string user;                         // authenticated user ("" for open paths)
  Role role = Role::kNone;                  // the user's role (kNone for open paths)
  VhostFilter vhosts;                       // what the user may see

  std::optional<std::string> param(const std::string& name) const {
    auto it = query.find(name);
    if (it == query.end()) return std::nullopt;
    return it->second;
  }
};

struct Response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Handlers answer through Reply, exactly once, on shard 0 (possibly after
// gathering from other shards).
using Reply = std::function<void(Response)>;

// {"error": code, "reason": reason} with `status`.
Response error_response(unsigned status, std::string_view code, std::string_view reason);
Response json_response(unsigned status, std::string body);

// "%2F" -> "/"; nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space = false);
std::string percent_encode(std::string_view text);

}  // namespace ferry::http
