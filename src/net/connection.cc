#include "net/connection.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <cstring>
#include <utility>

#include "common/clock.h"
#include "common/log.h"
#include "net/errors.h"

namespace ferry::net {

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::int64_t kLingerMs = 2000;
constexpr std::int64_t kIdleReleaseMs = 1000;  // write buffers of a connection idle this long are freed
constexpr std::size_t kKeepCapacity = 256;  // after ERROR, wait this long for the client to close
}

Connection::Connection(std::unique_ptr<Link> link, std::unique_ptr<websocket::Layer> ws,
                       const ListenerOptions& options, const ProtocolFactory& protocol, ShardId shard,
                       ConnectionId id, OnClosed on_closed, std::shared_ptr<WriteTurns> turns)
    : link_(std::move(link)),
      ws_(std::move(ws)),
      options_(options),
      shard_(shard),
      id_(id),
      on_closed_(std::move(on_closed)),
      turns_(std::move(turns)) {
  peer_ = link_->peer();
  protocol_ = protocol.make(*this, shard, id);
}

Connection::~Connection() = default;

std::string_view Connection::transport_name() const {
  if (ws_) return link_->name() == "tls" ? "wss" : "ws";
  return link_->name();
}

void Connection::start() {
  opened_ms_ = last_read_ms_ = last_write_ms_ = mono_ms();
  // At info, as RabbitMQ logs "accepting AMQP connection"; a flood of
  // connections writes a bounded number of these lines (and a summary).
  if (static LogRate rate("connections opened", 100); rate.allow())
    spdlog::info("connection {} opened from {} on shard {} ({})", id_.value, peer_, shard_.value,
                 transport_name());
  link_->start([self = shared_from_this()](const boost::system::error_code& ec) {
    if (self->closed_) return;
    if (ec) {
      if (static LogRate rate("failed TLS handshakes"); rate.allow())
        spdlog::info("connection {} ({}): TLS handshake failed: {}", self->id_.value, self->peer_, ec.message());
      self->note_close_reason("TLS handshake failed: " + ec.message());
      self->close_now();
      return;
    }
    self->link_up_ = true;
    self->read_more();
  });
}

// Reading waits for readiness first and reads only then, so an idle
// connection holds no read buffer: bytes land in the shard's scratch buffer
// and are parsed there; only the unfinished tail of a frame is copied into
// the connection's own buffer `in_`, which then takes the next reads until
// that frame is complete. (An idle connection costs a few KB, not 64 KB.)
std::vector<char>& Connection::scratch() {
  thread_local std::vector<char> buffer(kReadChunk);
  return buffer;
}

void Connection::read_more() {
  if (reading_ || read_paused_ || close_requested_ || closed_ || lingering_ || peer_finished_ || !link_up_)
    return;
  reading_ = true;
  link_->wait_readable([self = shared_from_this()](const boost::system::error_code& ec) { self->on_readable(ec); });
}

void Connection::on_readable(const boost::system::error_code& ec) {
  reading_ = false;
  if (closed_) return;
  if (ec) {
    if (ec != boost::asio::error::operation_aborted)
      spdlog::debug("connection {} wait error: {}", id_.value, ec.message());
    note_close_reason("socket error: " + ec.message());
    close_now();
    return;
  }
  if (lingering_ || close_requested_) return;  // the link discards what comes now
  if (in_begin_ < in_end_) read_into_own();
  else read_into_scratch();
}

void Connection::read_into_scratch() {
  std::vector<char>& buf = scratch();
  boost::system::error_code ec;
  std::size_t n = link_->read_some(std::span<char>(buf.data(), buf.size()), ec);
  if (!read_ok(ec)) return;
  n = unwrap(buf.data(), n);
  std::size_t begin = 0;
  parse(buf.data(), begin, n);
  if (begin < n && !protocol_->closing()) {
    // An unfinished frame: keep its bytes (the parser's offsets are relative
    // to where the frame starts, so they stay valid in the new buffer).
    in_begin_ = in_end_ = 0;
    make_room(n - begin + kReadChunk);
    std::memcpy(in_.get(), buf.data() + begin, n - begin);
    in_end_ = n - begin;
  }
  go_on_reading();
}

void Connection::read_into_own() {
  make_room(kReadChunk / 4);
  boost::system::error_code ec;
  std::size_t n = link_->read_some(std::span<char>(in_.get() + in_end_, in_capacity_ - in_end_), ec);
  if (!read_ok(ec)) return;
  in_end_ += unwrap(in_.get() + in_end_, n);
  parse_buffered();
  if (in_begin_ == in_end_) release_input();
  go_on_reading();
}

// After parsing: the socket is read again, unless the protocol stopped at
// its budget of frames for this turn (fairness, issue 18 item 10). Then the
// frames left (kept in in_) are parsed in a later turn, after the loop has
// polled the other connections' sockets, and the socket is read only once
// they are all parsed (so a client cannot make us buffer more meanwhile).
// The end of a WebSocket's input waits for them too.
void Connection::go_on_reading() {
  // (Only with frames left in in_: the protocol's flag is its last call's.)
  if (!protocol_->yielded() || in_begin_ == in_end_ || protocol_->closing() || closed_ || close_requested_) {
    end_of_messages();
    read_more();
    return;
  }
  if (parse_posted_) return;
  parse_posted_ = true;
  boost::asio::post(link_->executor(), [self = shared_from_this()] {
    self->parse_posted_ = false;
    // Paused meanwhile (flow control): resume_reading() goes on from here.
    if (self->closed_ || self->read_paused_ || self->close_requested_) return;
    self->parse_buffered();
    if (self->in_begin_ == self->in_end_) self->release_input();
    self->go_on_reading();
  });
}

void Connection::end_of_messages() {
  if (!ws_peer_closed_) return;
  ws_peer_closed_ = false;
  protocol_->on_end_of_input();
}

// After a read_some: false if the connection closed or must wait.
bool Connection::read_ok(const boost::system::error_code& ec) {
  if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
    read_more();
    return false;
  }
  if (ec == boost::asio::error::eof && !protocol_->closing()) {
    // Half-close (shutdown(SHUT_WR), or close after the last frame): the
    // client sends no more but may still read. As a DISCONNECT without
    // receipt: what it is owed (the RECEIPT or ERROR of every earlier frame)
    // is written, then the connection closes.
    spdlog::debug("connection {}: end of input from the client", id_.value);
    note_close_reason("the client closed its end of the connection");
    peer_finished_ = true;
    protocol_->on_end_of_input();
    return false;
  }
  if (ec) {
    if (ec != boost::asio::error::eof) spdlog::debug("connection {} read error: {}", id_.value, ec.message());
    note_close_reason(ec == boost::asio::error::eof ? std::string("the client closed the connection")
                                                    : "read error: " + ec.message());
    close_now();
    return false;
  }
  last_read_ms_ = mono_ms();  // any byte counts as liveness
  return true;
}

// WebSocket: the `n` bytes just read at `data` become the STOMP bytes they
// carry (in place); answers owed (handshake, pong, close) are queued. A
// handshake rejection or protocol error ends reading: the STOMP bytes that
// arrived before it are still parsed, then the connection closes.
std::size_t Connection::unwrap(char* data, std::size_t n) {
  if (!ws_) return n;
  websocket::Layer::Inbound in = ws_->inbound(data, n);
  if (!ws_routed_ && ws_->open()) {
    ws_routed_ = true;
    // Another protocol's path (add_ws_route): its session replaces the
    // listener's, which has read nothing yet (the old one goes first: it
    // leaves the shard's client table under this connection's id).
    if (const std::size_t e = ws_->endpoint(); e != 0 && ws_routes_ != nullptr && e <= ws_routes_->size()) {
      protocol_.reset();
      protocol_ = (*ws_routes_)[e - 1].protocol.make(*this, shard_, id_);
      routed_elsewhere_ = true;
    }
  }
  if (in.failed) {
    if (static LogRate rate("refused WebSocket handshakes and frames"); rate.allow())
      spdlog::info("connection {} ({}): {}", id_.value, peer_, log_safe(ws_->failure()));
    note_close_reason(std::string(ws_->failure()));
    close_requested_ = true;  // no more reads; the closing handshake follows the output
    flush();
  } else if (in.peer_closed) {
    // As the end of a TCP stream, once the frames before the close frame
    // are parsed (see end_of_messages()).
    spdlog::debug("connection {}: WebSocket close from the client", id_.value);
    note_close_reason("the client sent a WebSocket close");
    peer_finished_ = true;
    ws_peer_closed_ = true;
  } else if (!ws_->urgent().empty()) {
    flush();
  }
  return in.stomp_bytes;
}

// At least `want` free bytes after in_end_: parsed bytes are dropped when
// that is enough (and cheap), else the buffer doubles. Growth is bounded by
// the frame limits, which the parser enforces as bytes arrive.
void Connection::make_room(std::size_t want) {
  if (in_capacity_ - in_end_ >= want) return;
  const std::size_t live = in_end_ - in_begin_;
  if (in_begin_ > 0 && in_capacity_ - live >= want && live <= in_capacity_ / 2) {
    std::memmove(in_.get(), in_.get() + in_begin_, live);
  } else {
    const std::size_t capacity = std::max({2 * kReadChunk, 2 * in_capacity_, live + want});
    std::unique_ptr<char[]> bigger(new char[capacity]);  // not zero-filled
    if (live > 0) std::memcpy(bigger.get(), in_.get() + in_begin_, live);
    in_ = std::move(bigger);
    in_capacity_ = capacity;
  }
  in_begin_ = 0;
  in_end_ = live;
}

void Connection::release_input() {
  in_begin_ = in_end_ = 0;
  in_.reset();
  in_capacity_ = 0;
}

void Connection::parse_buffered() { parse(in_.get(), in_begin_, in_end_); }

void Connection::parse(char* buf, std::size_t& begin, std::size_t end) {
  if (begin < end) begin += protocol_->on_bytes(std::span<char>(buf + begin, end - begin));
}

void Connection::flush() {
  if (closed_) return;
  // What a write in progress did not take goes next, without waiting for
  // a turn of the delivery budget (see write_next).
  if (writing_now_) {
    reply_waiting_ = true;
    return;
  }
  // Coalesce: everything queued during this loop turn goes in one write.
  if (flush_posted_) return;
  flush_posted_ = true;
  auto task = with_memory(flush_memory_, [self = shared_from_this()] {
    self->flush_posted_ = false;
    self->start_write();
  });
  // Through the loop's own executor type: the type-erased one ignores the
  // handler's allocator (flush_memory_) and would allocate per flush.
  auto executor = link_->executor();
  if (auto* io = executor.target<boost::asio::io_context::executor_type>()) {
    boost::asio::post(*io, std::move(task));
  } else {
    boost::asio::post(executor, std::move(task));
  }
}

void Connection::flush_delivery() {
  if (turns_ == nullptr) {
    flush();
    return;
  }
  // A write posted or in progress takes (or is followed by) these frames.
  if (flush_posted_ || writing_now_ || write_queued_ || closed_) return;
  write_queued_ = true;
  turns_->add(shared_from_this());
}

void Connection::write_turn() {
  write_queued_ = false;
  start_write();
}

void Connection::write_next() {
  const bool reply = std::exchange(reply_waiting_, false);
  if (reply || turns_ == nullptr || out_.empty() || close_requested_ || (ws_ && !ws_->urgent().empty())) {
    start_write();
    return;
  }
  // Only deliveries came during the write: they wait for a turn.
  if (write_queued_ || flush_posted_) return;
  write_queued_ = true;
  turns_->add(shared_from_this());
}

void Connection::start_write() {
  if (writing_now_ || closed_ || lingering_ || !link_up_) return;
  if (ws_ && ws_->close_sent() && ws_->urgent().empty()) {
    // Nothing follows a WebSocket close frame.
    if (!out_.empty()) {
      out_.take(writing_);
      out_.recycle(writing_);
    }
    linger();
    return;
  }
  const bool urgent = ws_ && !ws_->urgent().empty();
  if (out_.empty() && !urgent) {
    if (!close_requested_) return;
    if (!ws_ || !ws_->queue_close()) {
      linger();
      return;
    }
  }
  writing_now_ = true;
  reply_waiting_ = false;  // this write takes it
  out_.take(writing_);
  last_write_ms_ = mono_ms();
  protocol_->on_flush_started();
  const std::vector<boost::asio::const_buffer>* buffers = &writing_.buffers();
  if (ws_) {
    // Control bytes (handshake answer, pong, close) go first; when a close
    // frame is among them out_ was empty, so no data follows it.
    control_.swap(ws_->urgent());
    ws_->urgent().clear();
    wire_.clear();
    if (!control_.empty()) wire_.emplace_back(control_.data(), control_.size());
    if (ws_->open() && !ws_->close_sent()) {
      ws_->frame(writing_.buffers(), framed_);
      wire_.insert(wire_.end(), framed_.begin(), framed_.end());
    }
    buffers = &wire_;
  }
  link_->async_write(*buffers, [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
    self->writing_now_ = false;
    if (self->closed_) return;
    if (ec) {
      self->note_close_reason("write error: " + ec.message());
      self->close_now();
      return;
    }
    self->out_.recycle(self->writing_);
    self->protocol_->on_flush_done();
    if (self->read_paused_ && !self->close_requested_ && self->out_.size() < self->options_.max_write_buffer) {
      // Output drained: the backlog pause (if any) ends.
      self->resume_reading();
    }
    self->write_next();
  });
  // A client that does not read its socket must not make us buffer without
  // bound: stop reading its frames until it catches up.
  if (out_.size() + writing_.size() > options_.max_write_buffer) pause_reading();
}

void Connection::close_after_flush() {
  close_requested_ = true;
  flush();
  // WebSocket: the closing frame goes out first (start_write).
  if (!writing_now_ && out_.empty() && !ws_) linger();
}

void Connection::linger() {
  if (closed_ || lingering_) return;
  // The last frame is written: the link tells the client (FIN, TLS
  // close_notify), discards its input until it closes too, and the
  // connection closes then (or after a short grace, see tick()). Closing
  // with unread input would send RST, which can destroy the last frame.
  lingering_ = true;
  linger_since_ms_ = mono_ms();
  protocol_->on_closed();
  link_->linger([self = shared_from_this()](const boost::system::error_code&) { self->close_now(); });
}

void Connection::pause_reading() { read_paused_ = true; }

void Connection::resume_reading() {
  if (!read_paused_) return;
  read_paused_ = false;
  // Frames already buffered are parsed first, then the socket is read.
  boost::asio::post(link_->executor(), [self = shared_from_this()] {
    if (self->closed_ || self->read_paused_ || self->close_requested_) return;
    self->parse_buffered();
    self->go_on_reading();
  });
}

void Connection::set_heart_beat(std::uint32_t send_ms, std::uint32_t recv_ms, std::string_view beat) {
  hb_send_ms_ = send_ms;
  hb_recv_ms_ = recv_ms;
  hb_beat_.assign(beat);
}

ConnectionInfo Connection::describe() const {
  ConnectionInfo i;
  i.id = id_;
  i.client_address = peer_;
  if (link_) i.server_address = link_->local();
  i.transport = std::string(transport_name());
  i.rate_in = rate_in_.per_second();
  i.rate_out = rate_out_.per_second();
  i.blocked = blocked();
  protocol_->describe(i);
  return i;
}

void Connection::tick(std::int64_t now_ms) {
  if (closed_) return;
  if (now_ms - last_sample_ms_ >= 1000) {
    last_sample_ms_ = now_ms;
    rate_in_.sample(protocol_->messages_in(), now_ms);
    rate_out_.sample(protocol_->messages_out(), now_ms);
  }
  if (lingering_) {
    if (now_ms - linger_since_ms_ > kLingerMs) close_now();
    return;
  }
  protocol_->tick(now_ms);
  // A connection holds a slot of max-connections: one that never completes
  // CONNECT does not keep it. Before STOMP can flow (TLS or WebSocket
  // handshake unfinished) there is no one to send an ERROR to.
  if ((!link_up_ || (ws_ && !ws_->open())) && options_.connect_timeout_ms != 0 &&
      now_ms - opened_ms_ > static_cast<std::int64_t>(options_.connect_timeout_ms)) {
    if (static LogRate rate("handshake timeouts"); rate.allow())
      spdlog::info("connection {} ({}): {} handshake not done within connect-timeout", id_.value, peer_,
                 link_up_ ? "WebSocket" : "TLS");
    note_close_reason(std::string(link_up_ ? "WebSocket" : "TLS") + " handshake not done within connect-timeout");
    close_now();
    return;
  }
  if (!protocol_->connected() && !protocol_->closing() && options_.connect_timeout_ms != 0 &&
      now_ms - opened_ms_ > static_cast<std::int64_t>(options_.connect_timeout_ms)) {
    protocol_->close_with_error(errors::kConnectTimeout, "no CONNECT frame within connect-timeout");
    return;
  }
  if (hb_recv_ms_ != 0 &&
      now_ms - last_read_ms_ > static_cast<std::int64_t>(options_.heart_beat_grace * hb_recv_ms_)) {
    if (static LogRate rate("heart-beat timeouts"); rate.allow())
      spdlog::info("connection {} ({}): heart-beat timeout after {} ms of silence", id_.value, peer_,
                 now_ms - last_read_ms_);
    note_close_reason(fmt::format("heart-beat timeout after {} ms of silence", now_ms - last_read_ms_));
    close_now();
    return;
  }
  if (hb_send_ms_ != 0 && !writing_now_ && now_ms - last_write_ms_ >= hb_send_ms_) {
    out_.text() += hb_beat_;
    start_write();
  }
  // An idle connection gives its write buffers back.
  if (!writing_now_ && out_.empty() && now_ms - last_write_ms_ > kIdleReleaseMs) {
    out_.shrink(writing_);
  }
}

void Connection::shutdown() {
  closed_ = true;
  link_->close();
  // The session goes now, while what it refers to (the broker, the session
  // layer's tables) still exists: handlers still queued on the stopped loop
  // keep this connection alive until the loop itself is destroyed, and do
  // nothing once closed_ is set.
  protocol_.reset();
}

void Connection::close_now() {
  if (closed_) return;
  closed_ = true;
  link_->close();
  log_closed();
  protocol_->on_closed();
  if (on_closed_) on_closed_(id_);
}

// At info with the reason, as RabbitMQ logs "closing AMQP connection" (and
// "client unexpectedly closed TCP connection"); bounded like the open line.
void Connection::log_closed() {
  static LogRate rate("connections closed", 100);
  if (!rate.allow()) return;
  std::string reason = close_reason_;
  if (reason.empty()) reason = protocol_->close_reason();
  if (reason.empty()) reason = close_requested_ ? "closed by the broker" : "closed";
  ConnectionInfo info;
  protocol_->describe(info);
  const double seconds = static_cast<double>(mono_ms() - opened_ms_) / 1000.0;
  if (info.user)
    spdlog::info("connection {} ({}, user '{}', vhost '{}') closed after {:.1f} s: {}", id_.value, peer_,
                 log_safe(*info.user), log_safe(info.vhost), seconds, log_safe(reason));
  else
    spdlog::info("connection {} ({}) closed after {:.1f} s: {}", id_.value, peer_, seconds, log_safe(reason));
}

}  // namespace ferry::net
