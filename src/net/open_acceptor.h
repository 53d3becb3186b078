#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"

namespace ferry::net {

// A TCP acceptor on `io`, bound to host:port (port 0 picks a free port) and
// listening. Binding is an expected failure (a port in use, an address not
// on this machine): the Error's text is asio's, naming the step ("bind:
// Address already in use"); the caller puts the option in front of it.
Result<std::unique_ptr<boost::asio::ip::tcp::acceptor>> open_acceptor(boost::asio::io_context& io,
                                                                      const std::string& host, std::uint16_t port);

}  // namespace ferry::net
