#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <string>

#include "common/result.h"

namespace ferry::bench {

// Resolves "HOST:PORT" (or "[v6]:PORT") to one TCP endpoint: the first IPv4
// address the resolver returns, else its first; an Error when that fails.
Result<boost::asio::ip::tcp::endpoint> resolve_server(const std::string& host_port);

}  // namespace ferry::bench
