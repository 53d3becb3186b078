#include "net/open_acceptor.h"

#include <boost/system/system_error.hpp>

namespace ferry::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Result<std::unique_ptr<tcp::acceptor>> open_acceptor(asio::io_context& io, const std::string& host,
                                                     std::uint16_t port) {
  // error_code overloads: nothing here throws.
  boost::system::error_code ec;
  // asio names no step when an address does not parse, and neither do we.
  const char* step = nullptr;
  auto addr = asio::ip::make_address(host, ec);
  auto acceptor = std::make_unique<tcp::acceptor>(io);
  tcp::endpoint ep(addr, port);
  if (!ec) step = "open", acceptor->open(ep.protocol(), ec);
  if (!ec) step = "set_option", acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) step = "bind", acceptor->bind(ep, ec);
  if (!ec) step = "listen", acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return failure(step == nullptr ? ec.message() : boost::system::system_error(ec, step).what());
  return acceptor;
}

}  // namespace ferry::net
