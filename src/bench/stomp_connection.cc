#include "bench/stomp_connection.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "bench/clock.h"
#include "stomp/encoder.h"
#include "stomp/parse_error.h"

namespace ferry::bench {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

stomp::Limits limits_for(const ConnectParams& p) {
  stomp::Limits l;
  l.max_frame_size = p.max_frame;
  l.max_body_size = p.max_frame;
  return l;
}

// "cx,cy" -> {cx, cy}; malformed parts read as 0 (no heart-beat).
std::pair<std::int64_t, std::int64_t> parse_heart_beat(std::string_view v) {
  std::int64_t a = 0, b = 0;
  const auto comma = v.find(',');
  if (comma == std::string_view::npos) return {0, 0};
  std::from_chars(v.data(), v.data() + comma, a);
  std::from_chars(v.data() + comma + 1, v.data() + v.size(), b);
  return {std::max<std::int64_t>(a, 0), std::max<std::int64_t>(b, 0)};
}

constexpr std::string_view kDisconnectReceipt = "ferry-bench-bye";

}  // namespace

StompConnection::StompConnection(asio::io_context& io, const ConnectParams& params, Handler& handler)
    : socket_(io), params_(params), handler_(handler), parser_(limits_for(params)) {
  in_.resize(params_.read_buffer);
}

void StompConnection::start(const tcp::endpoint& ep) {
  socket_.async_connect(ep, [this](const boost::system::error_code& ec) {
    if (state_ == State::kClosed) return;
    if (ec) return fail("connect: " + ec.message());
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    if (params_.tls == nullptr) return on_transport_ready();
    tls_.emplace(socket_, *params_.tls);
    tls_->async_handshake(asio::ssl::stream_base::client, [this](const boost::system::error_code& hec) {
      if (state_ == State::kClosed) return;
      if (hec) return fail("TLS handshake: " + hec.message());
      on_transport_ready();
    });
  });
}

void StompConnection::on_transport_ready() {
  state_ = State::kHandshake;
  send_connect();
  read_more();
}

void StompConnection::send_connect() {
  using stomp::Command;
  using stomp::Encoder;
  // CONNECT headers are never escaped; Encoder's 1.0 treatment is right.
  const auto v = stomp::Version::k1_0;
  Encoder::begin_frame(out_, Command::kConnect);
  Encoder::add_header(out_, "accept-version", "1.0,1.1,1.2", v, Command::kConnect);
  Encoder::add_header(out_, "host", params_.vhost, v, Command::kConnect);
  if (!params_.login.empty()) {
    Encoder::add_header(out_, "login", params_.login, v, Command::kConnect);
    Encoder::add_header(out_, "passcode", params_.passcode, v, Command::kConnect);
  }
  const std::string hb = std::to_string(params_.heart_beat_ms) + "," + std::to_string(params_.heart_beat_ms);
  Encoder::add_header(out_, "heart-beat", hb, v, Command::kConnect);
  Encoder::end_headers(out_, 0, false);
  out_ += '\0';
  flush();
}

void StompConnection::flush() {
  if (write_in_flight_ || out_.empty() || state_ == State::kClosed || state_ == State::kConnecting) return;
  writing_.swap(out_);
  write_in_flight_ = true;
  auto done = [this](const boost::system::error_code& ec, std::size_t) {
    write_in_flight_ = false;
    writing_.clear();
    if (state_ == State::kClosed) return;
    if (ec) return fail("write: " + ec.message());
    last_write_ns_ = now_ns();
    flush();
    handler_.on_written(*this);
  };
  if (tls_) {
    asio::async_write(*tls_, asio::buffer(writing_), std::move(done));
  } else {
    asio::async_write(socket_, asio::buffer(writing_), std::move(done));
  }
}

void StompConnection::read_more() {
  if (in_end_ == in_.size()) {
    if (in_start_ > 0) {
      std::memmove(in_.data(), in_.data() + in_start_, in_end_ - in_start_);
      in_end_ -= in_start_;
      in_start_ = 0;
    } else {
      // One frame fills the buffer: grow (the parser refuses frames past
      // max_frame before this passes it by much).
      in_.resize(std::min(in_.size() * 2, params_.max_frame + 4096));
    }
  }
  auto done = [this](const boost::system::error_code& ec, std::size_t n) {
    if (state_ == State::kClosed) return;
    if (ec) {
      if (state_ == State::kDisconnecting) {
        // Some brokers close without the RECEIPT.
        close();
        handler_.on_closed(*this, "");
        return;
      }
      return fail(ec == asio::error::eof ? "closed by the broker" : "read: " + ec.message());
    }
    on_read(n);
  };
  const auto into = asio::buffer(in_.data() + in_end_, in_.size() - in_end_);
  if (tls_) {
    tls_->async_read_some(into, std::move(done));
  } else {
    socket_.async_read_some(into, std::move(done));
  }
}

void StompConnection::on_read(std::size_t n) {
  in_end_ += n;
  stomp::Frame frame;
  while (in_start_ < in_end_) {
    const auto r = parser_.next(std::span<char>(in_.data() + in_start_, in_end_ - in_start_), frame);
    if (r.status == stomp::Parser::Status::kError) {
      return fail("unparsable frame from the broker: " + std::string(stomp::describe(r.error)));
    }
    in_start_ += r.consumed;
    if (r.status == stomp::Parser::Status::kNeedMore) break;
    if (!dispatch(frame)) return;
  }
  if (in_start_ == in_end_) {
    in_start_ = in_end_ = 0;
  } else if (in_start_ > in_.size() / 2) {
    // The parser keeps offsets relative to the first unparsed byte, so the
    // partial frame may move.
    std::memmove(in_.data(), in_.data() + in_start_, in_end_ - in_start_);
    in_end_ -= in_start_;
    in_start_ = 0;
  }
  handler_.on_input_parsed(*this);
  if (state_ == State::kClosed) return;
  flush();  // whatever the handlers queued while reading (ACKs), in one write
  read_more();
}

bool StompConnection::dispatch(const stomp::Frame& f) {
  using stomp::Command;
  if (state_ == State::kHandshake) {
    if (f.command == Command::kConnected) {
      handle_connected(f);
      if (state_ != State::kOpen) return false;
      handler_.on_connected(*this);
      return state_ != State::kClosed;
    }
    if (f.command == Command::kError) {
      handler_.on_frame(*this, f);
      fail("ERROR before CONNECTED: " + std::string(f.get("message").value_or(f.body)));
      return false;
    }
    fail("expected CONNECTED, got " + std::string(stomp::to_string(f.command)));
    return false;
  }
  if (state_ == State::kDisconnecting && f.command == Command::kReceipt &&
      f.get("receipt-id") == kDisconnectReceipt) {
    close();
    handler_.on_closed(*this, "");
    return false;
  }
  handler_.on_frame(*this, f);
  return state_ != State::kClosed;
}

void StompConnection::handle_connected(const stomp::Frame& f) {
  const auto v = f.get("version");
  if (!v || *v == "1.0") version_ = stomp::Version::k1_0;
  else if (*v == "1.1") version_ = stomp::Version::k1_1;
  else if (*v == "1.2") version_ = stomp::Version::k1_2;
  else return fail("broker chose an unknown STOMP version " + std::string(*v));
  parser_.set_version(version_);
  if (auto s = f.get("server")) server_ = std::string(*s);
  // Spec: the client sends every max(cx, sy) ms when both are non-zero.
  const auto [sx, sy] = parse_heart_beat(f.get("heart-beat").value_or("0,0"));
  const std::int64_t cx = params_.heart_beat_ms;
  send_interval_ns_ = (cx > 0 && sy > 0) ? std::max(cx, sy) * kNsPerMs : 0;
  (void)sx;
  last_write_ns_ = now_ns();
  state_ = State::kOpen;
}

void StompConnection::tick(std::int64_t now) {
  if (state_ != State::kOpen || send_interval_ns_ == 0) return;
  if (write_in_flight_ || !out_.empty()) return;
  // Send a little early so a broker's grace check never sees us late.
  if (now - last_write_ns_ >= send_interval_ns_ * 3 / 4) {
    out_ += '\n';
    ++heartbeats_sent_;
    flush();
  }
}

void StompConnection::disconnect() {
  if (state_ != State::kOpen) {
    if (state_ != State::kClosed) {
      close();
      handler_.on_closed(*this, "");
    }
    return;
  }
  stomp::Encoder::begin_frame(out_, stomp::Command::kDisconnect);
  stomp::Encoder::add_header(out_, "receipt", kDisconnectReceipt, version_, stomp::Command::kDisconnect);
  stomp::Encoder::end_headers(out_, 0, false);
  out_ += '\0';
  state_ = State::kDisconnecting;
  flush();
}

void StompConnection::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

void StompConnection::fail(const std::string& why) {
  if (state_ == State::kClosed) return;
  close();
  handler_.on_closed(*this, why);
}

}  // namespace ferry::bench
