#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>

#include "cluster/replication_messages.h"

namespace ferry::cluster {

// The bytes of replication between brokers (the cluster-listen port to
// come), written down in docs/cluster.md ("Wire format") byte by byte:
// length-prefixed frames, each one message about one log. Pure: no
// sockets. Little-endian, as the journal.
struct WireMessage {
  std::string log;  // which replicated log (PartitionStore's name)
  std::variant<FetchRequest, FetchResponse> body;
};

// Limits a receiver enforces before buffering a frame whole.
inline constexpr std::size_t kMaxReplicationFrameBytes = 64 * 1024 * 1024;
inline constexpr std::size_t kMaxNameBytes = 1024;  // log and node names

// Appends `m` as one frame to `out`.
void encode(const WireMessage& m, std::string& out);

// Reads the frame at the start of `data` (the unconsumed bytes of a
// connection). kNeedMore: not whole yet (an announced length over the limit
// is kError at once, before its bytes arrive). kMessage: `message` is
// filled and the first `consumed` bytes belong to it. kError: `error` says
// what was wrong; the connection is closed (a peer that sends a bad frame
// is not talked to further).
struct DecodeResult {
  enum class Status { kNeedMore, kMessage, kError };
  Status status = Status::kNeedMore;
  std::size_t consumed = 0;
  WireMessage message;
  std::string error;
};
DecodeResult decode(std::span<const char> data, std::size_t max_frame_bytes = kMaxReplicationFrameBytes);

}  // namespace ferry::cluster
