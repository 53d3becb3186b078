#pragma once

#include <functional>
#include <string>
#include <vector>

#include "http/request.h"

namespace ferry::http {

// Maps (method, path pattern) to a handler. A pattern is a path whose
// segments are literals or "{name}" (one decoded segment each); captured
// segments reach the handler in order. Runs on shard 0.
class Router {
 public:
  using Handler = std::function<void(const Request&, const std::vector<std::string>& captures, Reply)>;

  // `open`: served without authentication (/metrics, console assets).
  void add(std::string method, std::string pattern, Handler handler, bool open = false);

  enum class Match { kFound, kNoPath, kWrongMethod };
  struct Found {
    Match match = Match::kNoPath;
    const Handler* handler = nullptr;
    std::vector<std::string> captures;
    bool open = false;
    std::string allowed;  // methods of the path, for 405
  };
  Found find(const std::string& method, const std::vector<std::string>& segments) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> pattern;
    Handler handler;
    bool open = false;
  };
  std::vector<Route> routes_;
};

}  // namespace ferry::http
