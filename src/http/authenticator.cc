#include "http/authenticator.h"

namespace ferry::http {

bool Authenticator::check(std::string_view user, std::string_view pass, const Peer& peer) const {
  return peer.loopback && user == "guest" && pass == "guest";
}

}  // namespace ferry::http
