#include "bench/producer.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "bench/clock.h"
#include "stomp/encoder.h"

namespace ferry::bench {

namespace asio = boost::asio;

namespace {
// Unpaced producers hand the kernel writes of about this size: many SEND
// frames per write() (64 of 1 KiB), few enough bytes to keep latency sane.
constexpr std::size_t kBatchBytes = 64 << 10;
}  // namespace

Producer::Producer(asio::io_context& io, const Options& options, const ConnectParams& params,
                   const Payload& payload, int index, RunState& run)
    : options_(options),
      payload_(payload),
      index_(index),
      run_(run),
      conn_(io, params, *this),
      pace_timer_(io),
      deadline_timer_(io),
      batch_bytes_(std::max(kBatchBytes, payload.size() + 512)),
      // Paced producers keep encoding on time while a write is stuck, up to
      // this much; past it, messages wait (and their latency shows it).
      max_pending_bytes_(std::max<std::size_t>(4u << 20, 8 * (payload.size() + 512))) {}

void Producer::start(const asio::ip::tcp::endpoint& ep) { conn_.start(ep); }

void Producer::on_connected(StompConnection& c) {
  using stomp::Command;
  using stomp::Encoder;
  prefix_.clear();
  Encoder::begin_frame(prefix_, Command::kSend);
  Encoder::add_header(prefix_, "destination", options_.destination, c.version(), Command::kSend);
  // persistent:false matters to Ferry (its default is persistent) and
  // ActiveMQ reads it too; RabbitMQ also takes `persistent` on a SEND to
  // /queue/ as the queue's `durable` flag and refuses persistent:false on the
  // durable queue its SUBSCRIBE declared, while its messages are transient
  // by default anyway: so for RabbitMQ the header is left out.
  const bool rabbit = c.server().rfind("RabbitMQ", 0) == 0;
  if (options_.persistent || !rabbit) {
    Encoder::add_header(prefix_, "persistent", options_.persistent ? "true" : "false", c.version(),
                        Command::kSend);
  }
  Encoder::add_header(prefix_, "content-length", std::to_string(payload_.size()), c.version(),
                      Command::kSend);
  run_.producers_ready.fetch_add(1);
}

void Producer::begin(std::int64_t start_ns) {
  began_ = true;
  if (!conn_.is_open()) {  // lost between setup and start: nothing to send
    sending_done_ = true;
    return mark_finished();
  }
  if (options_.count > 0) limit_ = options_.count;
  else stop_ns_ = start_ns + static_cast<std::int64_t>(options_.duration_s * kNsPerSec);
  if (options_.rate > 0) {
    const double per_producer = options_.rate / options_.producers;
    interval_ns_ = std::max<std::int64_t>(1, static_cast<std::int64_t>(kNsPerSec / per_producer));
    // Producer i starts i/rate seconds late: together they tick evenly.
    next_due_ns_ = start_ns + static_cast<std::int64_t>(index_ * kNsPerSec / options_.rate);
  }
  if (stop_ns_ != std::numeric_limits<std::int64_t>::max()) {
    deadline_timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(stop_ns_)));
    deadline_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && !sending_done_) end_sending();
    });
  }
  pump();
}

bool Producer::window_open() const {
  return options_.receipt_window == 0 ||
         result_.sent - result_.confirmed < static_cast<std::uint64_t>(options_.receipt_window);
}

void Producer::encode(std::int64_t now) {
  std::string& out = conn_.out();
  const std::uint64_t seq = result_.sent;
  out += prefix_;
  if (options_.receipt_window > 0) {
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof digits, seq);
    // As long as real clients' ids (a prefix and a counter, or a UUID):
    // past the 15 characters a string keeps inline.
    out += "receipt:m-ferry-bench-";
    out.append(digits, r.ptr);
    out += '\n';
  }
  out += '\n';
  payload_.append(out, static_cast<std::uint32_t>(index_), seq, now);
  out += '\0';
  if (result_.sent == 0) result_.first_send_ns = now;
  result_.last_send_ns = now;
  ++result_.sent;
}

void Producer::pump() {
  if (!began_ || sending_done_ || !conn_.is_open()) return;
  const std::int64_t now = now_ns();
  if (now >= stop_ns_) return end_sending();
  const std::uint64_t before = result_.sent;
  if (interval_ns_ == 0) {
    // Two rounds: fill, hand to the connection (starts a write if none is in
    // flight), then fill the next batch while that write runs.
    for (int round = 0; round < 2; ++round) {
      while (result_.sent < limit_ && window_open() && conn_.out().size() < batch_bytes_) encode(now);
      run_.sent(index_).store(result_.sent, std::memory_order_release);
      conn_.flush();
    }
  } else {
    while (result_.sent < limit_ && next_due_ns_ <= now && window_open() &&
           conn_.unwritten() < max_pending_bytes_) {
      encode(now);
      next_due_ns_ += interval_ns_;
    }
    if (result_.sent != before) {
      run_.sent(index_).store(result_.sent, std::memory_order_release);
      conn_.flush();
    }
    // Sleep until the next message is due; a receipt or a completed write
    // wakes us earlier when the window or the pending bound held us back.
    if (result_.sent < limit_ && window_open() && conn_.unwritten() < max_pending_bytes_) {
      schedule(next_due_ns_);
    }
  }
  if (result_.sent >= limit_) end_sending();
}

void Producer::schedule(std::int64_t at_ns) {
  if (timer_armed_) return;
  timer_armed_ = true;
  pace_timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(at_ns)));
  pace_timer_.async_wait([this](const boost::system::error_code& ec) {
    timer_armed_ = false;
    if (!ec) pump();
  });
}

void Producer::on_written(StompConnection&) {
  if (!sending_done_) pump();
}

void Producer::on_frame(StompConnection&, const stomp::Frame& f) {
  if (f.command == stomp::Command::kReceipt) {
    const auto id = f.get("receipt-id");
    if (id && !id->empty() && (*id)[0] == 'm') {
      ++result_.confirmed;
      receipts_arrived_ = true;  // acted on once per read, in on_input_parsed
    }
    return;
  }
  if (f.command == stomp::Command::kError) {
    run_.error_frames.fetch_add(1);
    std::string text(f.get("message").value_or("(no message header)"));
    if (!f.body.empty()) text += ": " + std::string(f.body.substr(0, 200));
    run_.note_error("producer " + std::to_string(index_) + " got ERROR " + text);
  }
}

void Producer::on_input_parsed(StompConnection&) {
  // One read often carries many RECEIPTs: refill the window once for all of
  // them, so the next SENDs leave in one write.
  if (!receipts_arrived_) return;
  receipts_arrived_ = false;
  if (sending_done_) maybe_finish();
  else if (!timer_armed_) pump();
}

void Producer::end_sending() {
  if (sending_done_) return;
  sending_done_ = true;
  pace_timer_.cancel();
  deadline_timer_.cancel();
  run_.sent(index_).store(result_.sent, std::memory_order_release);
  maybe_finish();
}

void Producer::maybe_finish() {
  if (!conn_.is_open()) return;
  if (options_.receipt_window > 0 && result_.confirmed < result_.sent) return;
  conn_.disconnect();  // on_closed("") follows its RECEIPT
}

void Producer::abandon() {
  if (conn_.is_closed()) return;
  conn_.close();
  mark_finished();
}

void Producer::on_closed(StompConnection&, const std::string& why) {
  pace_timer_.cancel();
  deadline_timer_.cancel();
  if (!began_) {
    if (!why.empty()) {
      run_.setup_failures.fetch_add(1);
      run_.note_error("producer " + std::to_string(index_) + ": " + why);
    }
    return;
  }
  if (!why.empty()) {
    run_.connections_lost.fetch_add(1);
    run_.note_error("producer " + std::to_string(index_) + ": " + why);
  } else {
    result_.finished = true;
  }
  sending_done_ = true;
  mark_finished();
}

void Producer::mark_finished() {
  if (began_ && !counted_finished_) {
    counted_finished_ = true;
    run_.producers_finished.fetch_add(1);
  }
}

}  // namespace ferry::bench
