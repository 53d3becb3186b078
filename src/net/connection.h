#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/handler_memory.h"
#include "common/rate_window.h"
#include "net/link.h"
#include "net/listener_options.h"
#include "net/output_queue.h"
#include "net/protocol.h"
#include "net/transport.h"
#include "net/write_turns.h"
#include "net/websocket/layer.h"

namespace ferry::net {

// A client: reads into one buffer that its protocol session parses in
// place, and writes what the session queued in one write per loop turn. The
// bytes travel over a Link (TCP or TLS); with a WebSocket layer (ws / wss
// listeners) they are unwrapped from WebSocket frames in place before
// parsing and wrapped on the way out. Heart-beats,
// flow control and closing are the same for every transport. Kept alive by
// its pending I/O and by its shard's connection table; lives on one shard.
class Connection final : public Transport,
                         public WriteTurns::Writer,
                         public std::enable_shared_from_this<Connection> {
 public:
  using OnClosed = std::function<void(ConnectionId)>;

  // `ws`: the WebSocket layer, or null for plain STOMP.
  // `protocol` makes the session this connection carries.
  // `turns`: the shard's budget of delivery writes (null: deliveries are
  // written in the turn, as replies are).
  Connection(std::unique_ptr<Link> link, std::unique_ptr<websocket::Layer> ws, const ListenerOptions& options,
             const ProtocolFactory& protocol, ShardId shard, ConnectionId id, OnClosed on_closed,
             std::shared_ptr<WriteTurns> turns = nullptr);
  ~Connection() override;

  void start();
  // The other protocols of its WebSocket listener (the server's, which
  // outlives the connection): once the handshake names one's path, the
  // session is that protocol's.
  void set_ws_routes(const std::vector<WebSocketRoute>* routes) { ws_routes_ = routes; }
  // Whether its WebSocket handshake chose another protocol's route (its
  // session is not the listener's protocol): counted as that protocol's.
  bool routed_elsewhere() const { return routed_elsewhere_; }
  // Heart-beats: send EOLs when idle, drop a client silent for too long.
  void tick(std::int64_t now_ms);
  // Broker shutdown: close without ceremony, and destroy the session.
  void shutdown();

  Protocol& protocol() { return *protocol_; }
  ConnectionId id() const { return id_; }
  // The management API's snapshot of this connection.
  ConnectionInfo describe() const;
  // Flow control holds this connection: its socket is not read (producer
  // window full, publishes parked by the memory limit, or output backed up).
  // Shown as "blocked" in the management API and /metrics, as RabbitMQ does.
  bool blocked() const { return read_paused_ && !closed_; }

  // Transport
  std::string& output() override { return out_.text(); }
  void output_reference(broker::MessageRef owner, std::string_view bytes) override {
    out_.add_reference(std::move(owner), bytes);
  }
  void flush() override;
  void flush_delivery() override;
  void close_after_flush() override;
  void pause_reading() override;
  void resume_reading() override;
  void set_heart_beat(std::uint32_t send_ms, std::uint32_t recv_ms, std::string_view beat) override;
  std::uint64_t max_write_buffer() const override { return options_.max_write_buffer; }
  std::string peer() const override { return peer_; }
  std::string_view transport_name() const override;
  std::string certificate_name() const override { return link_ ? link_->certificate_name() : ""; }

  // Messages in/out per second over the last 5 s (sampled by tick()).
  double rate_in() const { return rate_in_.per_second(); }
  double rate_out() const { return rate_out_.per_second(); }

 private:
  static std::vector<char>& scratch();
  void read_more();
  void on_readable(const boost::system::error_code& ec);
  void read_into_scratch();
  void read_into_own();
  bool read_ok(const boost::system::error_code& ec);
  std::size_t unwrap(char* data, std::size_t n);
  void end_of_messages();
  void make_room(std::size_t want);
  void release_input();
  void parse(char* buf, std::size_t& begin, std::size_t end);
  void parse_buffered();
  void go_on_reading();
  void start_write();
  // WriteTurns::Writer: this connection's delivery write's turn came.
  void write_turn() override;
  // More output after a write: through the budget unless a reply waits.
  void write_next();
  void close_now();
  void linger();
  // The first reason wins (see close_now's log line).
  void note_close_reason(std::string reason) {
    if (close_reason_.empty()) close_reason_ = std::move(reason);
  }
  void log_closed();

  std::unique_ptr<Link> link_;
  std::unique_ptr<websocket::Layer> ws_;
  bool link_up_ = false;       // the TLS handshake is done
  const ListenerOptions& options_;
  ShardId shard_;
  ConnectionId id_;
  std::string peer_;
  OnClosed on_closed_;
  std::unique_ptr<Protocol> protocol_;  // made in the constructor; null only after shutdown()
  const std::vector<WebSocketRoute>* ws_routes_ = nullptr;
  bool ws_routed_ = false;  // the handshake's path has chosen the session
  bool routed_elsewhere_ = false;  // ... and it is a route's, not the listener's

  std::unique_ptr<char[]> in_;  // an unfinished frame's bytes; [in_begin_, in_end_) unparsed
  std::size_t in_capacity_ = 0;
  std::size_t in_begin_ = 0;
  std::size_t in_end_ = 0;
  bool reading_ = false;
  bool read_paused_ = false;   // producer flow control / output backlog
  bool peer_finished_ = false; // the client half-closed: nothing more to read
  bool ws_peer_closed_ = false; // a WebSocket close frame came: end of input after parsing

  OutputQueue out_;            // frames queued since the last write started
  OutputQueue::Batch writing_; // frames being written
  std::string control_;        // WebSocket bytes being written before writing_
  std::vector<boost::asio::const_buffer> framed_;  // writing_ in WebSocket messages
  std::vector<boost::asio::const_buffer> wire_;    // control_ + framed_
  bool writing_now_ = false;
  bool flush_posted_ = false;
  HandlerMemory flush_memory_;  // the posted flush (one at a time)
  std::shared_ptr<WriteTurns> turns_;  // the shard's delivery-write budget (may be null)
  bool write_queued_ = false;  // waiting in turns_
  bool reply_waiting_ = false; // flush() came during a write: the next write does not wait in turns_
  // Frames parsed past the protocol's per-turn budget wait for a later turn.
  bool parse_posted_ = false;
  bool close_requested_ = false;
  bool closed_ = false;
  std::string close_reason_;   // what the connection saw end it (empty: ask the protocol)
  bool lingering_ = false;     // last frame sent, waiting for the client's FIN
  std::int64_t linger_since_ms_ = 0;

  std::uint32_t hb_send_ms_ = 0;
  std::uint32_t hb_recv_ms_ = 0;
  std::string hb_beat_;  // what a heart-beat writes
  std::int64_t opened_ms_ = 0;
  std::int64_t last_read_ms_ = 0;
  std::int64_t last_write_ms_ = 0;

  std::int64_t last_sample_ms_ = 0;
  RateWindow rate_in_;
  RateWindow rate_out_;
};

}  // namespace ferry::net
