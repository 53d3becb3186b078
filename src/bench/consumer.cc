#include "bench/consumer.h"

#include "bench/clock.h"
#include "stomp/encoder.h"

namespace ferry::bench {

namespace asio = boost::asio;
using stomp::Command;
using stomp::Encoder;

namespace {
constexpr std::string_view kSubscribeReceipt = "ferry-bench-sub";
}

Consumer::Consumer(asio::io_context& io, const Options& options, const ConnectParams& params,
                   int index, ReceiveTally& tally, RunState& run)
    : options_(options),
      index_(index),
      tally_(tally),
      run_(run),
      conn_(io, params, *this),
      subscription_id_("ferry-bench-consumer-" + std::to_string(index)) {}

void Consumer::start(const asio::ip::tcp::endpoint& ep) { conn_.start(ep); }

void Consumer::on_connected(StompConnection& c) {
  const auto v = c.version();
  std::string& out = c.out();
  Encoder::begin_frame(out, Command::kSubscribe);
  Encoder::add_header(out, "id", subscription_id_, v, Command::kSubscribe);
  Encoder::add_header(out, "destination", options_.destination, v, Command::kSubscribe);
  Encoder::add_header(out, "ack", to_string(options_.ack), v, Command::kSubscribe);
  if (options_.prefetch > 0) {
    // Each broker reads its own name and ignores the others'.
    const std::string n = std::to_string(options_.prefetch);
    Encoder::add_header(out, "activemq.prefetchSize", n, v, Command::kSubscribe);
    Encoder::add_header(out, "prefetch-count", n, v, Command::kSubscribe);
  }
  Encoder::add_header(out, "receipt", kSubscribeReceipt, v, Command::kSubscribe);
  Encoder::end_headers(out, 0, false);
  out += '\0';
  c.flush();
}

void Consumer::on_frame(StompConnection& c, const stomp::Frame& f) {
  switch (f.command) {
    case Command::kMessage: {
      tally_.record(index_, f.body, now_ns());
      if (options_.ack == AckMode::kAuto) return;
      const std::string_view ack_id = f.get("ack").value_or("");
      const std::string_view message_id = f.get("message-id").value_or("");
      if (options_.ack == AckMode::kClientIndividual) {
        append_ack(ack_id, message_id, f.get("subscription").value_or(subscription_id_));
      } else {
        pending_ack_ = true;
        pending_ack_id_.assign(ack_id);
        pending_message_id_.assign(message_id);
      }
      return;
    }
    case Command::kReceipt:
      if (!ready_ && f.get("receipt-id") == kSubscribeReceipt) {
        ready_ = true;
        run_.consumers_ready.fetch_add(1);
      }
      return;
    case Command::kError: {
      run_.error_frames.fetch_add(1);
      std::string text(f.get("message").value_or("(no message header)"));
      if (!f.body.empty()) text += ": " + std::string(f.body.substr(0, 200));
      run_.note_error("consumer " + std::to_string(index_) + " got ERROR " + text);
      return;
    }
    default: return;
  }
}

void Consumer::on_input_parsed(StompConnection&) {
  if (!pending_ack_) return;
  pending_ack_ = false;
  append_ack(pending_ack_id_, pending_message_id_, subscription_id_);
}

void Consumer::append_ack(std::string_view ack_id, std::string_view message_id,
                          std::string_view subscription) {
  const auto v = conn_.version();
  std::string& out = conn_.out();
  Encoder::begin_frame(out, Command::kAck);
  if (v == stomp::Version::k1_2 && !ack_id.empty()) {
    Encoder::add_header(out, "id", ack_id, v, Command::kAck);
  } else {
    Encoder::add_header(out, "message-id", message_id, v, Command::kAck);
    Encoder::add_header(out, "subscription", subscription, v, Command::kAck);
  }
  Encoder::end_headers(out, 0, false);
  out += '\0';
}

void Consumer::stop() { conn_.disconnect(); }

void Consumer::on_closed(StompConnection&, const std::string& why) {
  run_.consumers_closed.fetch_add(1);
  if (why.empty()) return;
  if (running_) run_.connections_lost.fetch_add(1);
  else if (!ready_) run_.setup_failures.fetch_add(1);
  run_.note_error("consumer " + std::to_string(index_) + ": " + why);
}

}  // namespace ferry::bench
