#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/server_options.h"
#include "net/session.h"
#include "net/transport.h"
#include "stomp/parser.h"

namespace ferry::net {

// A STOMP client over TCP: reads into one buffer that the parser works on in
// place, hands frames to its Session, and writes what the session queued in
// one write per loop turn. Kept alive by its pending I/O and by its shard's
// connection table; lives on one shard.
class Connection final : public Transport, public std::enable_shared_from_this<Connection> {
 public:
  using OnClosed = std::function<void(ConnectionId)>;

  Connection(boost::asio::ip::tcp::socket socket, const ServerOptions& options,
             broker::Broker& broker, ShardId shard, ConnectionId id, OnClosed on_closed);
  ~Connection() override;

  void start();
  // Heart-beats: send EOLs when idle, drop a client silent for too long.
  void tick(std::int64_t now_ms);
  // Broker shutdown: close without ceremony.
  void shutdown();

  Session& session() { return session_; }
  ConnectionId id() const { return id_; }

  // Transport
  std::string& output() override { return out_; }
  void flush() override;
  void close_after_flush() override;
  void pause_reading() override;
  void resume_reading() override;
  void set_version(stomp::Version v) override { parser_.set_version(v); }
  void set_heart_beat(std::uint32_t send_ms, std::uint32_t recv_ms) override;
  std::string peer() const override { return peer_; }

 private:
  void read_more();
  void on_read(const boost::system::error_code& ec, std::size_t n);
  void parse_buffered();
  void start_write();
  void close_now();
  void linger();
  void discard_input();

  boost::asio::ip::tcp::socket socket_;
  const ServerOptions& options_;
  ShardId shard_;
  ConnectionId id_;
  std::string peer_;
  OnClosed on_closed_;
  stomp::Parser parser_;
  Session session_;

  std::vector<char> in_;       // read buffer; [in_begin_, in_end_) unparsed; empty when idle
  std::size_t in_begin_ = 0;
  std::size_t in_end_ = 0;
  std::array<char, 2048> small_;  // reads while in_ is empty (see read_more)
  bool reading_ = false;
  bool read_paused_ = false;   // producer flow control / output backlog
  bool peer_finished_ = false; // the client half-closed: nothing more to read

  std::string out_;            // frames queued during this loop turn
  std::string writing_;        // frames being written
  bool writing_now_ = false;
  bool flush_posted_ = false;
  bool close_requested_ = false;
  bool closed_ = false;
  bool lingering_ = false;     // last frame sent, waiting for the client's FIN
  std::int64_t linger_since_ms_ = 0;

  std::uint32_t hb_send_ms_ = 0;
  std::uint32_t hb_recv_ms_ = 0;
  std::int64_t opened_ms_ = 0;
  std::int64_t last_read_ms_ = 0;
  std::int64_t last_write_ms_ = 0;
};

}  // namespace ferry::net
