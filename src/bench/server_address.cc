#include "bench/server_address.h"

#include <boost/asio/io_context.hpp>

namespace ferry::bench {

Result<boost::asio::ip::tcp::endpoint> resolve_server(const std::string& host_port) {
  const auto colon = host_port.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == host_port.size()) {
    return failure("--server must be HOST:PORT, got '" + host_port + "'");
  }
  std::string host = host_port.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = host_port.substr(colon + 1);
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  boost::system::error_code ec;
  auto results = resolver.resolve(host, port, ec);
  if (ec || results.empty()) {
    return failure("cannot resolve " + host_port, ec ? ec.message() : "no address");
  }
  // Prefer IPv4: "localhost" may list ::1 first while brokers often listen
  // on 127.0.0.1 only.
  for (const auto& r : results) {
    if (r.endpoint().address().is_v4()) return r.endpoint();
  }
  return results.begin()->endpoint();
}

}  // namespace ferry::bench
