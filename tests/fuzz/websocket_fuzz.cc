// libFuzzer target: the WebSocket side of a connection on arbitrary input.
// The first byte picks a chunk size; the input is fed, in chunks, to the
// handshake parser, and what follows the request to the frame decoder
// (which unmasks in place and must only ever move payload forward). The
// same bytes also go through the outbound framer, cut into pieces, whose
// messages must add up to exactly the input. No crash, no UB, no overrun.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "net/websocket/frame_codec.h"
#include "net/websocket/handshake.h"
#include "net/websocket/message_framer.h"

using namespace ferry::net::websocket;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  std::string input(reinterpret_cast<const char*>(data + 1), size - 1);

  Handshake h("/ws");
  FrameDecoder d(4096);
  bool open = false;
  for (std::size_t at = 0; at < input.size();) {
    std::string piece = input.substr(at, chunk);
    at += piece.size();
    std::size_t begin = 0;
    if (!open) {
      auto r = h.feed(piece);
      if (r.status == Handshake::Status::kRejected) break;
      if (r.status == Handshake::Status::kNeedMore) continue;
      open = true;
      begin = r.consumed;
    }
    std::span<char> rest(piece.data() + begin, piece.size() - begin);
    auto r = d.decode(rest);
    if (r.payload > rest.size()) __builtin_trap();
    std::string ping;
    (void)d.take_ping(ping);
    if (ping.size() > 125) __builtin_trap();
    if (r.status == FrameDecoder::Status::kError || d.closed()) break;
  }

  // Outbound: the framer must pass every byte through exactly once.
  MessageFramer f;
  std::vector<boost::asio::const_buffer> in, out;
  for (std::size_t at = 0; at < input.size(); at += chunk)
    in.emplace_back(input.data() + at, std::min(chunk, input.size() - at));
  f.frame(in, out);
  std::size_t payload = 0;
  for (const auto& b : out) {
    const char* p = static_cast<const char*>(b.data());
    if (p >= input.data() && p < input.data() + input.size()) payload += b.size();
  }
  if (payload != input.size()) __builtin_trap();
  return 0;
}
