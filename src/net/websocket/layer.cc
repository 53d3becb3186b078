#include "net/websocket/layer.h"

#include <cstring>

namespace ferry::net::websocket {

Layer::Layer(std::string path, std::uint64_t max_message_size, std::vector<std::string> protocols)
    : handshake_(std::move(path), std::move(protocols)), decoder_(max_message_size) {}

void Layer::frame(const std::vector<boost::asio::const_buffer>& in, std::vector<boost::asio::const_buffer>& out) {
  if (stomp_) return framer_.frame(in, out);
  out.clear();
  std::uint64_t size = 0;
  for (const auto& b : in) size += b.size();
  if (size == 0) return;
  // A whole message (FIN set): a client needs nothing after it to read the
  // packets it carries (MQTT over WebSocket: binary messages, spec 6.0).
  stream_header_.clear();
  append_frame_header(stream_header_, Opcode::kBinary, true, size);
  out.reserve(in.size() + 1);
  out.emplace_back(stream_header_.data(), stream_header_.size());
  for (const auto& b : in)
    if (b.size() != 0) out.push_back(b);
}

Layer::Inbound Layer::inbound(char* data, std::size_t n) {
  Inbound in;
  if (failed_ || close_sent_) return in;  // input after the end is dropped
  std::size_t begin = 0;
  if (!open_) {
    auto r = handshake_.feed(std::string_view(data, n));
    if (r.status == Handshake::Status::kNeedMore) return in;
    urgent_ += handshake_.response();
    if (r.status == Handshake::Status::kRejected) {
      failed_ = true;
      failure_ = "WebSocket handshake rejected: " + handshake_.reason();
      in.failed = true;
      return in;
    }
    open_ = true;
    stomp_ = handshake_.serves_stomp();
    begin = r.consumed;
    if (begin == n) return in;
    // Frames sent right behind the request (a client need not wait).
    std::memmove(data, data + begin, n - begin);
    n -= begin;
  }
  auto r = decoder_.decode(std::span<char>(data, n));
  in.stomp_bytes = r.payload;
  std::string ping;
  if (decoder_.take_ping(ping)) urgent_ += control_frame(Opcode::kPong, ping);
  if (r.status == FrameDecoder::Status::kError) {
    failed_ = true;
    close_code_ = decoder_.error_code();
    close_reason_ = std::string(decoder_.error_text());
    failure_ = "WebSocket protocol error: " + close_reason_;
    in.failed = true;
    queue_close();
    return in;
  }
  if (decoder_.closed()) {
    in.peer_closed = true;
    // Echo the client's code when it is one an endpoint may send.
    const std::uint16_t c = decoder_.close_code();
    if (c == 1000 || c == 1001) close_code_ = static_cast<CloseCode>(c);
  }
  return in;
}

bool Layer::queue_close() {
  if (!open_ || close_sent_) return false;
  close_sent_ = true;
  urgent_ += close_frame(close_code_, close_reason_);
  return true;
}

}  // namespace ferry::net::websocket
