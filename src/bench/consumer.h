#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <string>

#include "bench/options.h"
#include "bench/receive_tally.h"
#include "bench/run_state.h"
#include "bench/stomp_connection.h"

namespace ferry::bench {

// One consuming connection on the consumer loop: SUBSCRIBE (id, ack mode,
// prefetch in every dialect's header) with a receipt, counted ready when the
// RECEIPT arrives; then every MESSAGE goes to the ReceiveTally and, in the
// client modes, is acknowledged: client-individual acks each message,
// client acks the last message of each read (cumulative). All ACKs of one
// read leave in one write. ACK headers follow the negotiated version: `id`
// from the MESSAGE's `ack` header in 1.2, `message-id` + `subscription`
// before. All calls on the consumer loop's thread.
class Consumer final : public StompConnection::Handler {
 public:
  Consumer(boost::asio::io_context& io, const Options& options, const ConnectParams& params,
           int index, ReceiveTally& tally, RunState& run);

  void start(const boost::asio::ip::tcp::endpoint& ep);
  void stop();  // DISCONNECT (or close if not open)
  bool is_closed() const { return conn_.is_closed(); }
  void tick(std::int64_t now) { conn_.tick(now); }
  void set_running(bool running) { running_ = running; }
  const std::string& server() const { return conn_.server(); }
  stomp::Version version() const { return conn_.version(); }

  void on_connected(StompConnection& c) override;
  void on_frame(StompConnection& c, const stomp::Frame& f) override;
  void on_input_parsed(StompConnection& c) override;
  void on_closed(StompConnection& c, const std::string& why) override;

 private:
  void append_ack(std::string_view ack_id, std::string_view message_id, std::string_view subscription);

  const Options& options_;
  const int index_;
  ReceiveTally& tally_;
  RunState& run_;
  StompConnection conn_;
  std::string subscription_id_;
  bool ready_ = false;
  bool running_ = false;  // the run began: a close now is a lost connection
  // client mode: the newest unacknowledged delivery of this read
  bool pending_ack_ = false;
  std::string pending_ack_id_, pending_message_id_;
};

}  // namespace ferry::bench
