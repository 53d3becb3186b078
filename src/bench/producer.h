#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <limits>
#include <string>

#include "bench/options.h"
#include "bench/payload.h"
#include "bench/run_state.h"
#include "bench/stomp_connection.h"

namespace ferry::bench {

// What one producer did, read by the main thread after the loops stopped.
struct ProducerResult {
  std::uint64_t sent = 0;       // SEND frames encoded (sequence numbers used)
  std::uint64_t confirmed = 0;  // RECEIPTs for them
  std::int64_t first_send_ns = 0;
  std::int64_t last_send_ns = 0;
  bool finished = false;        // stopped sending and closed cleanly
};

// One producing connection on the producer loop. Sends SEND frames to the
// destination, many per write: unpaced, it keeps one batch in flight and the
// next one filling; paced (--rate), a timer wakes it when the next message
// is due and every due message is encoded then. With a receipt window, every
// SEND asks for a RECEIPT and at most that many stay unconfirmed.
// When done (count reached or duration over, and every receipt in) it sends
// DISCONNECT with a receipt so the broker has taken every frame before it.
// All calls on the producer loop's thread.
class Producer final : public StompConnection::Handler {
 public:
  Producer(boost::asio::io_context& io, const Options& options, const ConnectParams& params,
           const Payload& payload, int index, RunState& run);

  void start(const boost::asio::ip::tcp::endpoint& ep);
  // Starts sending. `start_ns` is the common start of all producers; paced
  // producers are offset from it so the total rate is evenly spread.
  void begin(std::int64_t start_ns);
  // Gives up (drain timeout): closes the connection now.
  void abandon();

  const ProducerResult& result() const { return result_; }
  bool is_open() const { return conn_.is_open(); }
  void tick(std::int64_t now) { conn_.tick(now); }

  void on_connected(StompConnection& c) override;
  void on_frame(StompConnection& c, const stomp::Frame& f) override;
  void on_written(StompConnection& c) override;
  void on_input_parsed(StompConnection& c) override;
  void on_closed(StompConnection& c, const std::string& why) override;

 private:
  void pump();
  void encode(std::int64_t now);
  bool window_open() const;
  void end_sending();
  void maybe_finish();
  void schedule(std::int64_t at_ns);
  void mark_finished();

  const Options& options_;
  const Payload& payload_;
  const int index_;
  RunState& run_;
  StompConnection conn_;
  boost::asio::steady_timer pace_timer_;
  boost::asio::steady_timer deadline_timer_;

  std::string prefix_;  // SEND, destination, persistent, content-length lines
  std::size_t batch_bytes_;
  std::size_t max_pending_bytes_;
  std::uint64_t limit_ = std::numeric_limits<std::uint64_t>::max();
  std::int64_t stop_ns_ = std::numeric_limits<std::int64_t>::max();
  std::int64_t interval_ns_ = 0;  // paced: time between two of this producer's messages
  std::int64_t next_due_ns_ = 0;
  bool began_ = false;
  bool sending_done_ = false;
  bool timer_armed_ = false;
  bool counted_finished_ = false;
  bool receipts_arrived_ = false;  // since the last on_input_parsed
  ProducerResult result_;
};

}  // namespace ferry::bench
