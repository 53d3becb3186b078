#include "bench/options.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <random>

#include "bench/payload.h"

namespace ferry::bench {

std::string_view to_string(AckMode m) {
  switch (m) {
    case AckMode::kAuto: return "auto";
    case AckMode::kClient: return "client";
    case AckMode::kClientIndividual: return "client-individual";
  }
  return "auto";
}

Mode Options::mode() const {
  if (tcp_ceiling) return Mode::kTcpCeiling;
  if (tcp_relay) return Mode::kTcpRelay;
  if (idle_connections > 0) return Mode::kIdle;
  return Mode::kLoad;
}

void add_options(CLI::App& cmd, Options& o) {
  cmd.add_option("-s,--server", o.server, "broker HOST:PORT")->envname("FERRY_SERVER")->capture_default_str();
  cmd.add_option("-u,--user,--login", o.login, "CONNECT login")->envname("FERRY_USER");
  cmd.add_option("-p,--password,--passcode", o.passcode, "CONNECT passcode")->envname("FERRY_PASSWORD");
  cmd.add_option("--vhost,--host", o.vhost, "CONNECT host header (virtual host)")
      ->envname("FERRY_VHOST")
      ->capture_default_str();
  cmd.add_flag("--tls", o.tls,
               "connect with TLS (a broker's tls-listen port); the server's certificate is not verified");
  cmd.add_option("--destination", o.destination,
                 "where to send and subscribe (default /queue/ferry.bench.<random>); /topic/... = every consumer gets every message");
  cmd.add_option("--producers", o.producers, "producing connections")->capture_default_str();
  cmd.add_option("--consumers", o.consumers, "consuming connections")->capture_default_str();
  cmd.add_option("--size", o.size, "message body bytes (at least 56)")->capture_default_str();
  cmd.add_flag("--persistent", o.persistent, "send persistent:true (otherwise persistent:false)");
  cmd.add_option("--receipt-window", o.receipt_window,
                 "0 = no receipts; N = every SEND asks a RECEIPT, at most N unconfirmed per producer")
      ->capture_default_str();
  cmd.add_option("--ack", o.ack_name, "auto, client or client-individual")
      ->check(CLI::IsMember({"auto", "client", "client-individual"}))
      ->capture_default_str();
  cmd.add_option("--prefetch", o.prefetch, "consumer prefetch (0 = the broker's default)")->capture_default_str();
  cmd.add_option("--rate", o.rate, "total msgs/s over all producers, evenly paced (0 = as fast as possible)")
      ->capture_default_str();
  cmd.add_option("--duration", o.duration_s, "seconds of sending")->capture_default_str();
  cmd.add_option("--count", o.count, "messages per producer (overrides --duration)");
  cmd.add_option("--drain-timeout", o.drain_timeout_s,
                 "seconds consumers wait for missing messages after the producers stop")
      ->capture_default_str();
  cmd.add_flag("--quiet,-q", o.quiet, "no per-second progress line on stderr");
  cmd.add_option("--label", o.label, "free text copied into the JSON (broker, scenario)");
  cmd.add_option("--idle-connections", o.idle_connections,
                 "mode: open N connections, hold them --hold seconds with heart-beats, report, close");
  cmd.add_option("--heart-beat", o.heart_beat_ms, "heart-beat MS,MS in CONNECT (default 0,0)");
  cmd.add_option("--hold", o.hold_s, "seconds to hold idle connections")->capture_default_str();
  cmd.add_flag("--tcp-ceiling", o.tcp_ceiling,
               "mode: raw loopback TCP throughput with --size writes for --duration seconds, no broker");
  cmd.add_flag("--tcp-relay", o.tcp_relay,
               "mode: latency floor, no broker: --size messages at --rate (default 2000) msg/s for --duration seconds, "
               "sender -> relay thread -> receiver over loopback TCP");
}

Status validate(Options& o) {
  if (o.ack_name == "auto") o.ack = AckMode::kAuto;
  else if (o.ack_name == "client") o.ack = AckMode::kClient;
  else if (o.ack_name == "client-individual") o.ack = AckMode::kClientIndividual;
  else return failure("--ack must be auto, client or client-individual");

  if (int(o.tcp_ceiling) + int(o.tcp_relay) + int(o.idle_connections > 0) > 1)
    return failure("--tcp-ceiling, --tcp-relay and --idle-connections are separate modes");
  if (o.size == 0 || o.size > (64u << 20)) return failure("--size must be between 1 and 64 MiB");
  if (o.duration_s <= 0 && (o.count == 0 || o.tcp_ceiling || o.tcp_relay)) return failure("--duration must be positive");
  if (o.rate < 0) return failure("--rate must not be negative");
  if (o.drain_timeout_s < 0) return failure("--drain-timeout must not be negative");
  if (o.heart_beat_ms < 0) return failure("--heart-beat must not be negative");
  if (o.hold_s < 0) return failure("--hold must not be negative");
  if (o.idle_connections < 0 || o.idle_connections > 1'000'000) return failure("--idle-connections must be 0 to 1000000");
  if (o.mode() != Mode::kLoad) return {};

  if (o.size < Payload::kHeaderSize) {
    return failure("--size must be at least " + std::to_string(Payload::kHeaderSize) +
                   " bytes (the body carries producer, sequence number and send time)");
  }
  if (o.producers < 1) return failure("--producers must be at least 1");
  if (o.consumers < 0) return failure("--consumers must not be negative");
  if (o.producers > 10000 || o.consumers > 10000) return failure("--producers and --consumers are at most 10000");
  if (o.receipt_window < 0) return failure("--receipt-window must not be negative");
  if (o.prefetch < 0) return failure("--prefetch must not be negative");
  if (o.rate < 0) return failure("--rate must not be negative");
  if (o.destination.empty()) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(std::random_device{}()));
    o.destination = std::string("/queue/ferry.bench.") + suffix;
  }
  if (o.destination.front() != '/') return failure("--destination must start with / (e.g. /queue/NAME, /topic/NAME)");
  return {};
}

}  // namespace ferry::bench
