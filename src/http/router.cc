#include "http/router.h"

namespace ferry::http {

void Router::add(std::string method, std::string pattern, Handler handler, Access access) {
  Route r;
  r.method = std::move(method);
  std::size_t start = 1;  // patterns start with '/'
  while (start <= pattern.size()) {
    auto slash = pattern.find('/', start);
    if (slash == std::string::npos) slash = pattern.size();
    r.pattern.push_back(pattern.substr(start, slash - start));
    start = slash + 1;
  }
  int captures = 0;
  for (const std::string& seg : r.pattern) {
    if (seg.size() < 2 || seg.front() != '{' || seg.back() != '}') continue;
    if (seg == "{vhost}") r.vhost_capture = captures;
    ++captures;
  }
  r.handler = std::move(handler);
  switch (access) {
    case Access::kOpen: r.need = Role::kNone; break;
    case Access::kAdministrator: r.need = Role::kAdministrator; break;
    case Access::kByMethod:
      r.need = r.method == "GET" || r.method == "HEAD" ? Role::kMonitoring : Role::kManagement;
      break;
  }
  routes_.push_back(std::move(r));
}

Router::Found Router::find(const std::string& method, const std::vector<std::string>& segments) const {
  Found f;
  for (const Route& r : routes_) {
    if (r.pattern.size() != segments.size()) continue;
    std::vector<std::string> captures;
    bool ok = true;
    for (std::size_t i = 0; i < segments.size() && ok; ++i) {
      const std::string& p = r.pattern[i];
      if (p.size() >= 2 && p.front() == '{' && p.back() == '}') {
        if (segments[i].empty()) ok = false;
        else captures.push_back(segments[i]);
      } else if (p != segments[i]) {
        ok = false;
      }
    }
    if (!ok) continue;
    if (r.method != method && !(method == "HEAD" && r.method == "GET")) {
      if (!f.allowed.empty()) f.allowed += ", ";
      f.allowed += r.method;
      f.match = Match::kWrongMethod;
      continue;
    }
    f.match = Match::kFound;
    f.handler = &r.handler;
    f.captures = std::move(captures);
    f.need = r.need;
    f.vhost_capture = r.vhost_capture;
    return f;
  }
  return f;
}

}  // namespace ferry::http
