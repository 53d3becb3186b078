#pragma once

#include <string>
#include <utility>

#include "net/connection_info.h"

namespace ferry::http {

// "127.0.0.1:5000" -> host, port (IPv6 addresses keep their colons).
std::pair<std::string, int> split_address(const std::string& address);

// A connection's name as RabbitMQ gives it ("peer -> local"): the
// connections list, a consumer's channel_details.
std::string connection_name(const net::ConnectionInfo& c);

}  // namespace ferry::http
