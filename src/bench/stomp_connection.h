#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "stomp/frame.h"
#include "stomp/parser.h"
#include "stomp/version.h"

namespace ferry::bench {

// What a connection says in its CONNECT frame.
struct ConnectParams {
  std::string vhost = "/";
  std::string login;     // empty: no login/passcode headers
  std::string passcode;
  int heart_beat_ms = 0;  // offered both ways; 0 = heart-beat:0,0
  std::size_t read_buffer = 256 << 10;  // initial read buffer; grows for big frames
  std::size_t max_frame = 16u << 20;    // largest frame accepted from the broker
  // Not null: speak TLS (handshake after connect, before CONNECT).
  boost::asio::ssl::context* tls = nullptr;
};

// A non-blocking STOMP client connection for the load generator, on an
// io_context owned by one EventLoop: every call must come from that loop's
// thread, and so do all callbacks.
//
// Reads are large (the whole free part of the read buffer) and frames are
// parsed in place with stomp::Parser; a frame handed to on_frame() is valid
// only during that call. Writes are batched: callers append any number of
// frames to out() and call flush(); one write is in flight at a time while
// out() collects the next batch (two buffers, swapped).
//
// The connection speaks STOMP 1.2 CONNECT with accept-version 1.0,1.1,1.2 and
// adapts to the version the broker picks (version()). It sends heart-beat EOLs
// from tick() when nothing else was written for the agreed interval.
class StompConnection {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void on_connected(StompConnection& c) = 0;
    // Every frame after CONNECTED, ERROR and RECEIPT included.
    virtual void on_frame(StompConnection& c, const stomp::Frame& f) = 0;
    // A write completed (the next batch, if any, is already in flight).
    virtual void on_written(StompConnection& c) {}
    // Every complete frame of one read was handed to on_frame(); what the
    // handler appends now goes out in the same write (batched ACKs).
    virtual void on_input_parsed(StompConnection& c) {}
    // The connection is gone. `why` is empty after close() or a completed
    // disconnect(); otherwise it says what happened (refused, reset, ERROR
    // before CONNECTED, parse error).
    virtual void on_closed(StompConnection& c, const std::string& why) = 0;
  };

  StompConnection(boost::asio::io_context& io, const ConnectParams& params, Handler& handler);
  StompConnection(const StompConnection&) = delete;
  StompConnection& operator=(const StompConnection&) = delete;

  // Connects, sends CONNECT, and calls on_connected() once CONNECTED arrives.
  void start(const boost::asio::ip::tcp::endpoint& ep);

  std::string& out() { return out_; }
  void flush();
  // Bytes appended but not yet handed to the kernel.
  std::size_t unwritten() const { return out_.size() + writing_.size(); }

  bool is_open() const { return state_ == State::kOpen; }
  bool is_closed() const { return state_ == State::kClosed; }
  stomp::Version version() const { return version_; }
  // The broker's `server` header from CONNECTED (empty if none).
  const std::string& server() const { return server_; }

  // Heart-beats: call periodically; writes an EOL when the agreed send
  // interval passed without any write.
  void tick(std::int64_t now_ns);
  std::uint64_t heartbeats_sent() const { return heartbeats_sent_; }

  // DISCONNECT with a receipt; the connection closes (why empty) when the
  // RECEIPT arrives. close() any time to give up waiting.
  void disconnect();
  void close();

 private:
  enum class State { kConnecting, kHandshake, kOpen, kDisconnecting, kClosed };

  void on_transport_ready();
  void send_connect();
  void read_more();
  void on_read(std::size_t n);
  bool dispatch(const stomp::Frame& f);  // false: the connection closed
  void handle_connected(const stomp::Frame& f);
  void fail(const std::string& why);

  boost::asio::ip::tcp::socket socket_;
  std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;  // over socket_
  ConnectParams params_;
  Handler& handler_;
  State state_ = State::kConnecting;
  stomp::Version version_ = stomp::Version::k1_0;
  std::string server_;

  stomp::Parser parser_;
  std::vector<char> in_;
  std::size_t in_start_ = 0;  // first unparsed byte
  std::size_t in_end_ = 0;    // end of data read

  std::string out_;      // being filled
  std::string writing_;  // in flight
  bool write_in_flight_ = false;

  std::int64_t send_interval_ns_ = 0;  // agreed heart-beat send interval; 0 = none
  std::int64_t last_write_ns_ = 0;
  std::uint64_t heartbeats_sent_ = 0;
};

}  // namespace ferry::bench
