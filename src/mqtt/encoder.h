#pragma once

#include <string>

#include "mqtt/packet.h"

namespace ferry::mqtt {

// Encoders of the packets a server sends, for a connection's protocol level
// (3.1.1 or 5). Each appends one whole packet to `out`. What 3.1.1 cannot
// carry (properties, most reason codes) is left out; CONNACK and SUBACK map
// their reason codes to 3.1.1's return codes. Sizes are the caller's to
// bound (strings <= 65535 bytes, a packet within the Variable Byte
// Integer's range: asserted).
void encode_connack(Level level, const Connack& p, std::string& out);
void encode_publish(Level level, const Publish& p, std::string& out);
// PUBACK, PUBREC, PUBREL, PUBCOMP (p.type says which). MQTT 5 writes the
// short form (packet id only) for Success without properties (spec 3.4.2.1).
void encode_pub_response(Level level, const PubResponse& p, std::string& out);
void encode_suback(Level level, const Suback& p, std::string& out);
void encode_unsuback(Level level, const Unsuback& p, std::string& out);
void encode_pingresp(std::string& out);
// MQTT 5 only (3.1.1 has no DISCONNECT from the server: asserted).
void encode_disconnect(Level level, const Disconnect& p, std::string& out);
void encode_auth(const Auth& p, std::string& out);

}  // namespace ferry::mqtt
