#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "mqtt/packet.h"
#include "mqtt/reason_code.h"

namespace ferry::mqtt {

// Incremental decoder of the packets a client sends to a server. Pure: no
// sockets, no clocks.
//
// The caller keeps the bytes not yet consumed in its read buffer and calls
// next() with all of them; a packet is decoded once its fixed header and
// `Remaining Length` bytes are all there, and `consumed` bytes then belong
// to it. The packet's views point into `data`: they stay valid until the
// caller drops those bytes.
//
// The fixed header is checked as soon as it arrives: a packet larger than
// max_packet_size (fixed header included) is refused before it is buffered
// (kPacketTooLarge, spec 3.1.2.11 / 4.13). The first packet must be CONNECT;
// its protocol level sets how later packets are read (3.1.1 or 5). A second
// CONNECT is a protocol error (spec 3.1.0-2).
//
// Every malformed input ends in kError with a reason code (kMalformedPacket,
// kProtocolError, kPacketTooLarge, kUnsupportedProtocolVersion,
// kTopicNameInvalid) and a rule naming what was wrong; after it the decoder
// is unusable, and the session answers per protocol level (MQTT 5:
// CONNACK or DISCONNECT with the code; 3.1.1: a CONNACK return code or
// simply closing).
class Decoder {
 public:
  enum class Status { kNeedMore, kPacket, kError };

  struct Result {
    Status status = Status::kNeedMore;
    std::size_t consumed = 0;
    ReasonCode error = ReasonCode::kSuccess;
    std::string_view rule;  // a static string
  };

  explicit Decoder(std::size_t max_packet_size);

  Result next(std::string_view data, ClientPacket& out);

  // The protocol level of the CONNECT decoded so far (also set when the
  // CONNECT itself fails after its level byte, so the session can answer
  // in the right form); empty before.
  std::optional<Level> level() const { return level_; }
  // As if a CONNECT of this level had been decoded (tests, fuzzing).
  void set_level(Level level) {
    level_ = level;
    connected_ = true;
  }
  std::size_t max_packet_size() const { return max_packet_size_; }

 private:
  Result fail(ReasonCode code, std::string_view rule);

  std::size_t max_packet_size_;
  std::optional<Level> level_;
  bool connected_ = false;  // a CONNECT was decoded
  Result error_;            // sticky after kError
};

}  // namespace ferry::mqtt
