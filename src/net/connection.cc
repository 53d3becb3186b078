#include "net/connection.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <cstring>

#include "common/clock.h"
#include "net/errors.h"
#include "stomp/salvage.h"

namespace ferry::net {

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::int64_t kLingerMs = 2000;
constexpr std::int64_t kIdleReleaseMs = 1000;  // write buffers of a connection idle this long are freed
constexpr std::size_t kKeepCapacity = 256;  // after ERROR, wait this long for the client to close
}

Connection::Connection(boost::asio::ip::tcp::socket socket, const ServerOptions& options,
                       broker::Broker& broker, ShardId shard, ConnectionId id, OnClosed on_closed)
    : socket_(std::move(socket)),
      options_(options),
      shard_(shard),
      id_(id),
      on_closed_(std::move(on_closed)),
      parser_(options.limits),
      session_(options, broker, *this, shard, id) {
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  peer_ = ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
  socket_.set_option(boost::asio::ip::tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
}

Connection::~Connection() = default;

void Connection::start() {
  opened_ms_ = last_read_ms_ = last_write_ms_ = mono_ms();
  spdlog::debug("connection {} opened from {} on shard {}", id_.value, peer_, shard_.value);
  read_more();
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
  if (reading_ || read_paused_ || close_requested_ || closed_ || lingering_ || peer_finished_)
    return;
  reading_ = true;
  socket_.async_wait(boost::asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) { self->on_readable(ec); });
}

void Connection::on_readable(const boost::system::error_code& ec) {
  reading_ = false;
  if (closed_) return;
  if (ec) {
    if (ec != boost::asio::error::operation_aborted)
      spdlog::debug("connection {} wait error: {}", id_.value, ec.message());
    close_now();
    return;
  }
  if (lingering_) {
    discard_input();
    return;
  }
  if (in_begin_ < in_end_) read_into_own();
  else read_into_scratch();
}

void Connection::read_into_scratch() {
  std::vector<char>& buf = scratch();
  boost::system::error_code ec;
  std::size_t n = socket_.read_some(boost::asio::buffer(buf.data(), buf.size()), ec);
  if (!read_ok(ec)) return;
  std::size_t begin = 0;
  parse(buf.data(), begin, n);
  if (begin < n && !session_.closing()) {
    // An unfinished frame: keep its bytes (the parser's offsets are relative
    // to where the frame starts, so they stay valid in the new buffer).
    in_begin_ = in_end_ = 0;
    make_room(n - begin + kReadChunk);
    std::memcpy(in_.get(), buf.data() + begin, n - begin);
    in_end_ = n - begin;
  }
  read_more();
}

void Connection::read_into_own() {
  make_room(kReadChunk / 4);
  boost::system::error_code ec;
  std::size_t n = socket_.read_some(boost::asio::buffer(in_.get() + in_end_, in_capacity_ - in_end_), ec);
  if (!read_ok(ec)) return;
  in_end_ += n;
  parse_buffered();
  if (in_begin_ == in_end_) release_input();
  read_more();
}

// After a read_some: false if the connection closed or must wait.
bool Connection::read_ok(const boost::system::error_code& ec) {
  if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
    read_more();
    return false;
  }
  if (ec == boost::asio::error::eof && !session_.closing()) {
    // Half-close (shutdown(SHUT_WR), or close after the last frame): the
    // client sends no more but may still read. As a DISCONNECT without
    // receipt: what it is owed (the RECEIPT or ERROR of every earlier frame)
    // is written, then the connection closes.
    spdlog::debug("connection {}: end of input from the client", id_.value);
    peer_finished_ = true;
    session_.on_end_of_input();
    return false;
  }
  if (ec) {
    if (ec != boost::asio::error::eof) spdlog::debug("connection {} read error: {}", id_.value, ec.message());
    close_now();
    return false;
  }
  last_read_ms_ = mono_ms();  // any byte counts as liveness
  return true;
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
  stomp::Frame frame;
  while (!session_.closing() && begin < end) {
    std::span<char> data(buf + begin, end - begin);
    auto r = parser_.next(data, frame);
    begin += r.consumed;
    if (r.status == stomp::Parser::Status::kNeedMore) {
      if (r.consumed == 0) break;
      continue;
    }
    if (r.status == stomp::Parser::Status::kError) {
      session_.on_parse_error(r.error, stomp::salvage_receipt(data));
      break;
    }
    session_.on_frame(frame);
  }
}

void Connection::flush() {
  // Coalesce: everything queued during this loop turn goes in one write.
  if (flush_posted_ || writing_now_ || closed_) return;
  flush_posted_ = true;
  boost::asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->flush_posted_ = false;
    self->start_write();
  });
}

void Connection::start_write() {
  if (writing_now_ || closed_) return;
  if (out_.empty()) {
    if (close_requested_) linger();
    return;
  }
  writing_now_ = true;
  out_.take(writing_);
  last_write_ms_ = mono_ms();
  session_.on_flush_started();
  boost::asio::async_write(socket_, writing_.buffers(),
                           [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                             self->writing_now_ = false;
                             if (self->closed_) return;
                             if (ec) {
                               self->close_now();
                               return;
                             }
                             self->out_.recycle(self->writing_);
                             self->session_.on_flush_done();
                             if (self->read_paused_ && !self->close_requested_ &&
                                 self->out_.size() < self->options_.max_write_buffer) {
                               // Output drained: the backlog pause (if any) ends.
                               self->resume_reading();
                             }
                             self->start_write();
                           });
  // A client that does not read its socket must not make us buffer without
  // bound: stop reading its frames until it catches up.
  if (out_.size() + writing_.size() > options_.max_write_buffer) pause_reading();
}

void Connection::close_after_flush() {
  close_requested_ = true;
  flush();
  if (!writing_now_ && out_.empty()) linger();
}

void Connection::linger() {
  if (closed_ || lingering_) return;
  // Closing a socket with unread input makes the kernel send RST, which can
  // destroy the ERROR frame before the client reads it. So: send FIN after
  // the last frame, discard input until the client closes, and close then
  // (or after a short grace, see tick()).
  lingering_ = true;
  linger_since_ms_ = mono_ms();
  session_.on_closed();
  boost::system::error_code ec;
  socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
  discard_input();
}

void Connection::discard_input() {
  if (closed_ || reading_) return;
  release_input();
  boost::system::error_code ec;
  std::vector<char>& buf = scratch();
  for (;;) {
    socket_.read_some(boost::asio::buffer(buf.data(), buf.size()), ec);
    if (ec) break;
  }
  if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) {
    close_now();  // EOF (the client closed) or an error
    return;
  }
  reading_ = true;
  socket_.async_wait(boost::asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->reading_ = false;
                       if (self->closed_) return;
                       if (ec) {
                         self->close_now();
                         return;
                       }
                       self->discard_input();
                     });
}

void Connection::pause_reading() { read_paused_ = true; }

void Connection::resume_reading() {
  if (!read_paused_) return;
  read_paused_ = false;
  // Frames already buffered are parsed first, then the socket is read.
  boost::asio::post(socket_.get_executor(), [self = shared_from_this()] {
    if (self->closed_ || self->read_paused_) return;
    self->parse_buffered();
    self->read_more();
  });
}

void Connection::set_heart_beat(std::uint32_t send_ms, std::uint32_t recv_ms) {
  hb_send_ms_ = send_ms;
  hb_recv_ms_ = recv_ms;
}

void Connection::tick(std::int64_t now_ms) {
  if (closed_) return;
  if (now_ms - last_sample_ms_ >= 1000) {
    last_sample_ms_ = now_ms;
    rate_in_.sample(session_.messages_in(), now_ms);
    rate_out_.sample(session_.messages_out(), now_ms);
  }
  if (lingering_) {
    if (now_ms - linger_since_ms_ > kLingerMs) close_now();
    return;
  }
  // A connection holds a slot of max-connections: one that never completes
  // CONNECT does not keep it.
  if (!session_.connected() && !session_.closing() && options_.connect_timeout_ms != 0 &&
      now_ms - opened_ms_ > static_cast<std::int64_t>(options_.connect_timeout_ms)) {
    session_.fail(errors::kConnectTimeout, "no CONNECT frame within connect-timeout");
    return;
  }
  if (hb_recv_ms_ != 0 &&
      now_ms - last_read_ms_ > static_cast<std::int64_t>(options_.heart_beat_grace * hb_recv_ms_)) {
    spdlog::info("connection {} ({}): heart-beat timeout after {} ms of silence", id_.value, peer_,
                 now_ms - last_read_ms_);
    close_now();
    return;
  }
  if (hb_send_ms_ != 0 && !writing_now_ && now_ms - last_write_ms_ >= hb_send_ms_) {
    out_.text().push_back('\n');
    start_write();
  }
  // An idle connection gives its write buffers back.
  if (!writing_now_ && out_.empty() && now_ms - last_write_ms_ > kIdleReleaseMs) {
    out_.shrink(writing_);
  }
}

void Connection::shutdown() {
  closed_ = true;
  boost::system::error_code ec;
  socket_.close(ec);
}

void Connection::close_now() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  session_.on_closed();
  spdlog::debug("connection {} closed", id_.value);
  if (on_closed_) on_closed_(id_);
}

}  // namespace ferry::net
