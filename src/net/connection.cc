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
constexpr std::int64_t kLingerMs = 2000;  // after ERROR, wait this long for the client to close
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
}

Connection::~Connection() = default;

void Connection::start() {
  opened_ms_ = last_read_ms_ = last_write_ms_ = mono_ms();
  spdlog::debug("connection {} opened from {} on shard {}", id_.value, peer_, shard_.value);
  read_more();
}

void Connection::read_more() {
  if (reading_ || read_paused_ || close_requested_ || closed_ || lingering_ || peer_finished_)
    return;
  // Make room: drop parsed bytes, then grow up to the frame limit.
  if (in_begin_ > 0) {
    std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
  }
  reading_ = true;
  if (in_.empty()) {
    // No read buffer (an idle connection, or one whose frames are small):
    // read into the small inline one, so thousands of idle clients do not
    // each hold a read chunk. on_read() drops the chunk again after a read
    // that the small buffer could have taken.
    socket_.async_read_some(boost::asio::buffer(small_),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        std::size_t n) {
                              if (!ec) self->in_.assign(self->small_.data(), self->small_.data() + n);
                              self->on_read(ec, n);
                            });
    return;
  }
  if (in_.size() - in_end_ < kReadChunk / 4) in_.resize(in_end_ + kReadChunk);
  socket_.async_read_some(boost::asio::buffer(in_.data() + in_end_, in_.size() - in_end_),
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      std::size_t n) { self->on_read(ec, n); });
}

void Connection::on_read(const boost::system::error_code& ec, std::size_t n) {
  reading_ = false;
  if (closed_) return;
  if (lingering_) {
    if (ec) close_now();
    else discard_input();
    return;
  }
  if (ec == boost::asio::error::eof && !session_.closing()) {
    // Half-close (shutdown(SHUT_WR), or close after the last frame): the
    // client sends no more but may still read. As a DISCONNECT without
    // receipt: what it is owed (the RECEIPT or ERROR of every earlier frame)
    // is written, then the connection closes.
    spdlog::debug("connection {}: end of input from the client", id_.value);
    peer_finished_ = true;
    session_.on_end_of_input();
    return;
  }
  if (ec) {
    if (ec != boost::asio::error::eof && ec != boost::asio::error::operation_aborted)
      spdlog::debug("connection {} read error: {}", id_.value, ec.message());
    close_now();
    return;
  }
  last_read_ms_ = mono_ms();  // any byte counts as liveness
  in_end_ += n;
  parse_buffered();
  if (in_begin_ == in_end_) {
    in_begin_ = in_end_ = 0;
    if (n <= small_.size()) {
      // Drained after a small read: the client is idle or sends small
      // frames; free the chunk (read_more() then reads into small_).
      in_.clear();
      in_.shrink_to_fit();
    } else if (in_.size() > 4 * kReadChunk) {
      // Shrink a buffer that grew for one large frame.
      in_.resize(kReadChunk);
      in_.shrink_to_fit();
    }
  }
  read_more();
}

void Connection::parse_buffered() {
  stomp::Frame frame;
  while (!session_.closing() && in_begin_ < in_end_) {
    std::span<char> data(in_.data() + in_begin_, in_end_ - in_begin_);
    auto r = parser_.next(data, frame);
    in_begin_ += r.consumed;
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
  writing_.swap(out_);
  out_.clear();
  last_write_ms_ = mono_ms();
  session_.on_flush_started();
  boost::asio::async_write(socket_, boost::asio::buffer(writing_),
                           [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                             self->writing_now_ = false;
                             if (self->closed_) return;
                             if (ec) {
                               self->close_now();
                               return;
                             }
                             self->writing_.clear();
                             if (self->writing_.capacity() > 4 * kReadChunk) self->writing_.shrink_to_fit();
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
  if (in_.size() < kReadChunk) in_.resize(kReadChunk);
  reading_ = true;
  socket_.async_read_some(boost::asio::buffer(in_.data(), in_.size()),
                          [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                            self->reading_ = false;
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
    if (self->in_begin_ == self->in_end_) self->in_begin_ = self->in_end_ = 0;
    self->read_more();
  });
}

void Connection::set_heart_beat(std::uint32_t send_ms, std::uint32_t recv_ms) {
  hb_send_ms_ = send_ms;
  hb_recv_ms_ = recv_ms;
}

void Connection::tick(std::int64_t now_ms) {
  if (closed_) return;
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
    out_.push_back('\n');
    start_write();
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
