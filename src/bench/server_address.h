#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <optional>
#include <string>

namespace ferry::bench {

// Resolves "HOST:PORT" (or "[v6]:PORT") to one TCP endpoint: the first IPv4
// address the resolver returns, else its first. nullopt with `error` filled
// when that fails.
std::optional<boost::asio::ip::tcp::endpoint> resolve_server(const std::string& host_port,
                                                             std::string& error);

}  // namespace ferry::bench
