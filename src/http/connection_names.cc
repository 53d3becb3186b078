#include "http/connection_names.h"

#include <charconv>

namespace ferry::http {

std::pair<std::string, int> split_address(const std::string& a) {
  const auto colon = a.rfind(':');
  if (colon == std::string::npos) return {a, 0};
  int port = 0;
  std::from_chars(a.data() + colon + 1, a.data() + a.size(), port);
  return {a.substr(0, colon), port};
}

std::string connection_name(const net::ConnectionInfo& c) { return c.client_address + " -> " + c.server_address; }

}  // namespace ferry::http
