#pragma once

#include <functional>
#include <string>
#include <vector>

#include "http/request.h"

namespace ferry::http {

// Maps (method, path pattern) to a handler. A pattern is a path whose
// segments are literals or "{name}" (one decoded segment each); captured
// segments reach the handler in order. A capture named "{vhost}" is checked
// by the server against what the user may see (VhostFilter). Runs on shard 0.
class Router {
 public:
  using Handler = std::function<void(const Request&, const std::vector<std::string>& captures, Reply)>;

  // Who may call a route: kOpen needs no credentials (console assets);
  // kByMethod lets any management user GET (the `monitoring` tag or more)
  // and needs `management` or `administrator` for other methods;
  // kAdministrator needs the `administrator` tag (users, vhosts,
  // permissions).
  enum class Access { kByMethod, kOpen, kAdministrator };
  void add(std::string method, std::string pattern, Handler handler, Access access = Access::kByMethod);

  enum class Match { kFound, kNoPath, kWrongMethod };
  struct Found {
    Match match = Match::kNoPath;
    const Handler* handler = nullptr;
    std::vector<std::string> captures;
    Role need = Role::kNone;  // kNone: open
    int vhost_capture = -1;   // index of the "{vhost}" capture, if any
    std::string allowed;  // methods of the path, for 405
  };
  Found find(const std::string& method, const std::vector<std::string>& segments) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> pattern;
    Handler handler;
    Role need = Role::kNone;
    int vhost_capture = -1;
  };
  std::vector<Route> routes_;
};

}  // namespace ferry::http
