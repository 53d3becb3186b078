#pragma once

#include <string_view>

// The texts the connection layer closes a client with (its protocol session
// words them as an ERROR frame); the session's own are in session/errors.h.
// Limit errors name the option that sets the limit.
namespace ferry::net::errors {

inline constexpr std::string_view kTooManyConnections = "too many connections (max-connections)";
inline constexpr std::string_view kClosedByAdministrator = "closed by administrator";
inline constexpr std::string_view kConnectTimeout = "connect timeout (connect-timeout)";

}  // namespace ferry::net::errors
