#include "app/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <thread>

#include "cluster/etcd_coordinator.h"
#include "stream/retention.h"
#include "stream/stream_format.h"

namespace ferry::app {

namespace {

template <typename T>
bool parse_number(const std::string& text, T& out) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && p == text.data() + text.size();
}

OptionSpec size_option(std::string name, std::string def, std::string help,
                       std::function<void(Config&, std::uint64_t)> set) {
  return {std::move(name), std::move(def), std::move(help),
          [set](Config& o, const std::string& v) -> Status {
            std::uint64_t n = 0;
            if (!parse_size(v, n) || n == 0) return failure("expected a size such as 1048576, 512KiB, 16MiB");
            set(o, n);
            return {};
          }};
}

OptionSpec count_option(std::string name, std::string def, std::string help,
                        std::function<void(Config&, std::uint32_t)> set,
                        bool allow_zero = false) {
  return {std::move(name), std::move(def), std::move(help),
          [set, allow_zero](Config& o, const std::string& v) -> Status {
            std::uint32_t n = 0;
            if (!parse_number(v, n) || (n == 0 && !allow_zero)) return failure("expected a positive whole number");
            set(o, n);
            return {};
          }};
}

// "HOST:PORT" (host may be [v6]) -> host, port; false if malformed.
bool parse_host_port(const std::string& v, std::string& host, std::uint16_t& port) {
  auto colon = v.rfind(':');
  if (colon == std::string::npos) return false;
  host = v.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return !host.empty() && parse_number(v.substr(colon + 1), port);
}

// An optional listener: "" = off, else HOST:PORT.
OptionSpec listener_option(std::string name, std::string help, net::ListenAddress& (*field)(Config&)) {
  return {std::move(name), "", std::move(help),
          [field](Config& o, const std::string& v) -> Status {
            net::ListenAddress a;
            if (!v.empty() && !parse_host_port(v, a.host, a.port)) return failure("expected HOST:PORT, or empty (off)");
            field(o) = a;
            return {};
          }};
}

std::vector<OptionSpec> build_specs() {
  std::vector<OptionSpec> s;
  s.push_back({"listen", "0.0.0.0:61613",
               "STOMP TCP listener, HOST:PORT (port 0 picks a free port); guest may connect from loopback only",
               [](Config& o, const std::string& v) -> Status {
                 std::string host;
                 std::uint16_t port = 0;
                 if (!parse_host_port(v, host, port)) return failure("expected HOST:PORT");
                 o.listen.host = host;
                 o.listen.port = port;
                 return {};
               }});
  s.push_back(listener_option("tls-listen",
                              "STOMP over TLS (stomp+ssl) listener, HOST:PORT, e.g. 0.0.0.0:61614 (empty = off)",
                              [](Config& o) -> net::ListenAddress& { return o.listen.tls_listen; }));
  s.push_back(listener_option("ws-listen",
                              "STOMP over WebSocket (ws://) listener, HOST:PORT, e.g. 127.0.0.1:15674 (empty = off)",
                              [](Config& o) -> net::ListenAddress& { return o.listen.ws_listen; }));
  s.push_back(listener_option("wss-listen",
                              "STOMP over WebSocket over TLS (wss://) listener, HOST:PORT, e.g. 0.0.0.0:15673 (empty = off)",
                              [](Config& o) -> net::ListenAddress& { return o.listen.wss_listen; }));
  s.push_back(listener_option("mqtt-listen",
                              "MQTT 3.1.1 and 5 TCP listener, HOST:PORT, e.g. 0.0.0.0:1883 (empty = off)",
                              [](Config& o) -> net::ListenAddress& { return o.mqtt_listen; }));
  s.push_back(listener_option("mqtt-tls-listen",
                              "MQTT over TLS listener (mqtts://; tls-cert-file, tls-key-file apply), HOST:PORT, e.g. 0.0.0.0:8883 (empty = off)",
                              [](Config& o) -> net::ListenAddress& { return o.mqtt_tls_listen; }));
  // mqtt-tls-listen under the name of its scheme (mqtts://), which users
  // know from the issue and client URLs: the same listener. Empty leaves mqtt-tls-listen as it is, so that the
  // shipped ferry.toml, which lists both, does not turn one off.
  s.push_back({"mqtts-listen", "", "same as mqtt-tls-listen (MQTT over TLS, mqtts://), HOST:PORT (empty = mqtt-tls-listen decides)",
               [](Config& o, const std::string& v) -> Status {
                 if (v.empty()) return {};
                 net::ListenAddress a;
                 if (!parse_host_port(v, a.host, a.port)) return failure("expected HOST:PORT, or empty");
                 o.mqtt_tls_listen = a;
                 return {};
               }});
  s.push_back(listener_option("mqtt-ws-listen",
                              "MQTT over WebSocket (ws://HOST:PORT/mqtt, subprotocol mqtt) listener, HOST:PORT, e.g. 0.0.0.0:15675 (empty = off)",
                              [](Config& o) -> net::ListenAddress& { return o.mqtt_ws_listen; }));
  s.push_back(listener_option("mqtt-wss-listen",
                              "MQTT over WebSocket over TLS (wss://HOST:PORT/mqtt) listener, HOST:PORT, e.g. 0.0.0.0:15676 (empty = off)",
                              [](Config& o) -> net::ListenAddress& { return o.mqtt_wss_listen; }));
  s.push_back({"mqtt-ws-path", "/mqtt", "request path of MQTT over WebSocket, on the MQTT WebSocket listeners (others get 404) and, with MQTT on, the STOMP ones",
               [](Config& o, const std::string& v) -> Status {
                 if (v.empty() || v.front() != '/' || v.find_first_of(" ?#\r\n") != std::string::npos)
                   return failure("expected a path starting with / (no spaces, ? or #)");
                 o.mqtt_ws_path = v;
                 return {};
               }});
  s.push_back(count_option("mqtt-max-retained", "100000",
                           "MQTT retained messages kept (one per topic, all vhosts); a retained PUBLISH for one more topic is refused (0 = no limit)",
                           [](auto& o, std::uint32_t n) { o.mqtt_max_retained = n; }, true));
  s.push_back(size_option("mqtt-max-retained-bytes", "128MiB",
                          "bytes of MQTT retained messages kept (topics and payloads, all vhosts); a retained PUBLISH past it is refused",
                          [](auto& o, std::uint64_t n) { o.mqtt_max_retained_bytes = n; }));
  s.push_back({"ws-path", "/ws", "request path of the WebSocket listeners (others get 404)",
               [](Config& o, const std::string& v) -> Status {
                 if (v.empty() || v.front() != '/' || v.find_first_of(" ?#\r\n") != std::string::npos)
                   return failure("expected a path starting with / (no spaces, ? or #)");
                 o.listen.ws_path = v;
                 return {};
               }});
  s.push_back({"tls-cert-file", "", "PEM certificate (chain) of the TLS listeners",
               [](Config& o, const std::string& v) -> Status {
                 o.listen.tls.cert_file = v;
                 return {};
               }});
  s.push_back({"tls-key-file", "", "PEM private key of tls-cert-file",
               [](Config& o, const std::string& v) -> Status {
                 o.listen.tls.key_file = v;
                 return {};
               }});
  s.push_back({"tls-ca-file", "", "PEM CA certificates that sign client certificates (for tls-verify-client)",
               [](Config& o, const std::string& v) -> Status {
                 o.listen.tls.ca_file = v;
                 return {};
               }});
  s.push_back({"tls-verify-client", "none",
               "client certificates on TLS listeners: none, optional (checked if sent) or required",
               [](Config& o, const std::string& v) -> Status {
                 if (v == "none") o.listen.tls.verify_client = net::TlsVerifyClient::kNone;
                 else if (v == "optional") o.listen.tls.verify_client = net::TlsVerifyClient::kOptional;
                 else if (v == "required") o.listen.tls.verify_client = net::TlsVerifyClient::kRequired;
                 else return failure("expected none, optional or required");
                 return {};
               }});
  s.push_back(count_option("shards", "0", "event loops (threads); 0 = one per core",
                           [](auto& o, std::uint32_t n) {
                             o.broker.shards = n == 0 ? std::max(1u, std::thread::hardware_concurrency()) : n;
                           }, true));
  s.push_back({"log-level", "info", "trace, debug, info, warn or error",
               [](Config& o, const std::string& v) -> Status {
                 static const char* kLevels[] = {"trace", "debug", "info", "warn", "error"};
                 for (const char* l : kLevels) {
                   if (v == l) {
                     o.log_level = v;
                     return {};
                   }
                 }
                 return failure("expected trace, debug, info, warn or error");
               }});
  s.push_back({"log-format", "text",
               "text (one line per event) or json (one JSON object per line: time, level, msg)",
               [](Config& o, const std::string& v) -> Status {
                 if (v != "text" && v != "json") return failure("expected text or json");
                 o.log_json = v == "json";
                 return {};
               }});
  s.push_back(size_option("max-frame-size", "16MiB", "largest frame accepted (command, headers and body)",
                          [](auto& o, std::uint64_t n) { o.stomp.limits.max_frame_size = n; }));
  s.push_back(size_option("max-body-size", "10MiB", "largest message body accepted",
                          [](auto& o, std::uint64_t n) { o.stomp.limits.max_body_size = n; }));
  s.push_back(count_option("max-headers", "1000", "header lines per frame",
                           [](auto& o, std::uint32_t n) { o.stomp.limits.max_headers = n; }));
  s.push_back(size_option("max-header-length", "10KiB", "longest header line",
                          [](auto& o, std::uint64_t n) { o.stomp.limits.max_header_length = n; }));
  s.push_back(count_option("max-connections", "10000", "open client connections; newer ones get ERROR",
                           [](auto& o, std::uint32_t n) { o.listen.max_connections = n; }));
  s.push_back(count_option("max-subscriptions", "1000", "subscriptions per connection",
                           [](auto& o, std::uint32_t n) { o.stomp.max_subscriptions = n; }));
  s.push_back(count_option("max-composite-destinations", "64",
                           "elements of one composite destination (ActiveMQ's /queue/a,/queue/b,/topic/c); a SEND naming more gets ERROR",
                           [](auto& o, std::uint32_t n) { o.stomp.max_composite_destinations = n; }));
  s.push_back(count_option("max-unacked", "10000", "ceiling on any subscription's prefetch window",
                           [](auto& o, std::uint32_t n) { o.broker.max_unacked = n; }));
  s.push_back(count_option("default-prefetch", "1000", "prefetch window when SUBSCRIBE names none",
                           [](auto& o, std::uint32_t n) { o.broker.default_prefetch = n; }));
  s.push_back(count_option("max-transactions", "100", "open transactions per connection",
                           [](auto& o, std::uint32_t n) { o.stomp.max_transactions = n; }));
  s.push_back(count_option("max-transaction-size", "10000", "frames buffered in one transaction",
                           [](auto& o, std::uint32_t n) { o.stomp.max_transaction_size = n; }));
  s.push_back(size_option("memory-limit", "1GiB", "bytes of queued messages held in memory, plus an estimate of what each queue and subscription costs (all shards); past it persistent queue messages are paged to the journal",
                          [](auto& o, std::uint64_t n) { o.broker.memory_limit = n; }));
  s.push_back(count_option("max-queues", "100000",
                           "queues per vhost (all shards); a SEND, SUBSCRIBE or PUT that would create one more gets ERROR (0 = no limit)",
                           [](auto& o, std::uint32_t n) { o.broker.max_queues = n; }, true));
  s.push_back(count_option("max-exchanges", "10000",
                           "exchanges declared per vhost beyond the predeclared amq.* and default ones; a declare past it is refused (0 = no limit)",
                           [](auto& o, std::uint32_t n) { o.broker.max_exchanges = n; }, true));
  s.push_back(count_option("max-bindings", "100000",
                           "exchange bindings per vhost (management API and /exchange/ subscriptions together); a bind past it is refused (0 = no limit)",
                           [](auto& o, std::uint32_t n) { o.broker.max_bindings = n; }, true));
  s.push_back(count_option("max-policies", "100",
                           "policies per vhost (PUT /api/policies); each new queue is matched against them; one more is refused (0 = no limit)",
                           [](auto& o, std::uint32_t n) { o.broker.max_policies = n; }, true));
  s.push_back({"memory-policy", "block",
               "at memory-limit: block (producer flow control) or reject (ERROR to the producer)",
               [](Config& o, const std::string& v) -> Status {
                 if (v == "block") o.broker.memory_policy = broker::MemoryPolicy::kBlock;
                 else if (v == "reject") o.broker.memory_policy = broker::MemoryPolicy::kReject;
                 else return failure("expected block or reject");
                 return {};
               }});
  s.push_back(size_option("producer-window-size", "1MiB",
                          "bytes a connection may have in flight to destinations before reads pause",
                          [](auto& o, std::uint64_t n) { o.stomp.producer_window_size = n; }));
  s.push_back(size_option("max-write-buffer", "4MiB",
                          "output queued for one client: caps auto-ack windows in bytes; past it the client is not read",
                          [](auto& o, std::uint64_t n) { o.listen.max_write_buffer = n; }));
  s.push_back(count_option("max-deliveries", "10",
                           "deliveries before a message is dead-lettered (0 = never)",
                           [](auto& o, std::uint32_t n) { o.broker.max_deliveries = n; }, true));
  s.push_back(count_option("max-scheduled-messages", "100000",
                           "scheduled messages (AMQ_SCHEDULED_DELAY, x-delay, delay) not due yet, all shards; "
                           "a SEND past it gets ERROR (0 = no limit)",
                           [](auto& o, std::uint32_t n) { o.broker.max_scheduled_messages = n; }, true));
  s.push_back({"dead-letter-prefix", "DLQ.", "/queue/NAME dead-letters into /queue/<prefix>NAME",
               [](Config& o, const std::string& v) -> Status {
                 if (v.empty()) return failure("must not be empty");
                 o.broker.dead_letter_prefix = v;
                 return {};
               }});
  s.push_back({"dead-letter-queue", "",
               "one shared dead-letter queue for every queue of a vhost (ActiveMQ's ActiveMQ.DLQ); \"\" = "
               "per queue, by dead-letter-prefix",
               [](Config& o, const std::string& v) -> Status {
                 if (v.starts_with('/') || v.find('\n') != std::string::npos)
                   return failure("a queue name, without /queue/ (e.g. ActiveMQ.DLQ)");
                 o.broker.dead_letter_queue = v;
                 return {};
               }});
  s.push_back({"heart-beat", "10000,10000",
               "server heart-beats: SEND,RECV; 0 turns a direction off, a value below heart-beat-min lowers "
               "that direction's floor (the client's interval is honoured down to the floor)",
               [](Config& o, const std::string& v) -> Status {
                 auto comma = v.find(',');
                 std::uint32_t a = 0, b = 0;
                 if (comma == std::string::npos || !parse_number(v.substr(0, comma), a) ||
                     !parse_number(v.substr(comma + 1), b))
                   return failure("expected SEND_MS,RECV_MS");
                 o.stomp.heart_beat_send_ms = a;
                 o.stomp.heart_beat_recv_ms = b;
                 return {};
               }});
  s.push_back(count_option("heart-beat-min", "500",
                           "shortest heart-beat interval (ms) agreed with a client in either direction: "
                           "a client's request is honoured down to it",
                           [](auto& o, std::uint32_t n) { o.stomp.heart_beat_min_ms = n; }));
  s.push_back({"heart-beat-grace", "2.0", "a client silent for grace x the agreed interval is disconnected",
               [](Config& o, const std::string& v) -> Status {
                 // Bounded so that grace x any interval (uint32 ms) stays a
                 // finite int64 of ms; !(g >= 1) also rejects NaN.
                 // strtod, not std::stod: a typo is an answer, not an exception.
                 char* end = nullptr;
                 const double g = std::strtod(v.c_str(), &end);
                 if (v.empty() || end != v.c_str() + v.size() || !(g >= 1.0) || g > 1000.0)
                   return failure("expected a number from 1.0 to 1000");
                 o.listen.heart_beat_grace = g;
                 return {};
               }});
  s.push_back(count_option("connect-timeout", "30000",
                           "ms a new connection may take to send CONNECT before it is closed (0 = never)",
                           [](auto& o, std::uint32_t n) { o.listen.connect_timeout_ms = n; }, true));
  s.push_back(count_option("topic-subscriber-buffer", "10000", "messages buffered per topic subscriber",
                           [](auto& o, std::uint32_t n) { o.broker.topic_subscriber_buffer = n; }));
  s.push_back(count_option("max-groups-per-queue", "10000",
                           "message groups (JMSXGroupID/group) a queue remembers; past it the least recently used group's consumer is forgotten",
                           [](auto& o, std::uint32_t n) { o.broker.max_groups_per_queue = n; }));
  s.push_back({"slow-subscriber-policy", "block",
               "when a topic subscriber's buffer is full: block (slow the producers) or disconnect",
               [](Config& o, const std::string& v) -> Status {
                 if (v == "block") o.broker.slow_subscriber_policy = broker::SlowSubscriberPolicy::kBlock;
                 else if (v == "disconnect")
                   o.broker.slow_subscriber_policy = broker::SlowSubscriberPolicy::kDisconnect;
                 else return failure("expected block or disconnect");
                 return {};
               }});
  // STOMP dialects (docs/dialects.md).
  s.push_back({"strict-subscription-id", "false",
               "true: SUBSCRIBE without id at STOMP 1.1/1.2 gets ERROR; false: the destination is its id (RabbitMQ)",
               [](Config& o, const std::string& v) -> Status {
                 if (v == "true") o.stomp.strict_subscription_id = true;
                 else if (v == "false") o.stomp.strict_subscription_id = false;
                 else return failure("expected true or false");
                 return {};
               }});
  s.push_back({"default-destination-type", "queue",
               "what a destination without /queue/ or /topic/ names (ActiveMQ.DLQ): queue (ActiveMQ) or topic",
               [](Config& o, const std::string& v) -> Status {
                 if (v == "queue") o.stomp.default_destination_kind = broker::DestinationKind::kQueue;
                 else if (v == "topic") o.stomp.default_destination_kind = broker::DestinationKind::kTopic;
                 else return failure("expected queue or topic");
                 return {};
               }});
  s.push_back({"server-header", "Ferry/0.1.0",
               "CONNECTED's server header, e.g. \"ActiveMQ/5.18.3 (Ferry 0.1.0)\" for clients that pick their "
               "dialect from it (\"\" = none)",
               [](Config& o, const std::string& v) -> Status {
                 if (v.find_first_of("\r\n") != std::string::npos) return failure("must be one line");
                 o.stomp.server_header = v;
                 return {};
               }});
  s.push_back({"data-dir", "./data", "directory of the journal (persistent messages, durable subscriptions)",
               [](Config& o, const std::string& v) -> Status {
                 if (v.empty()) return failure("must not be empty");
                 o.data_dir = v;
                 return {};
               }});
  s.push_back({"fsync", "always",
               "always (a receipt means fdatasync returned; group commit), interval, or never",
               [](Config& o, const std::string& v) -> Status {
                 if (v == "always") o.journal.fsync = store::FsyncPolicy::kAlways;
                 else if (v == "interval") o.journal.fsync = store::FsyncPolicy::kInterval;
                 else if (v == "never") o.journal.fsync = store::FsyncPolicy::kNever;
                 else return failure("expected always, interval or never");
                 return {};
               }});
  s.push_back(count_option("fsync-interval", "100", "ms between syncs with fsync = interval",
                           [](auto& o, std::uint32_t n) { o.journal.fsync_interval_ms = n; }));
  s.push_back(size_option("segment-size", "64MiB", "journal segment file size",
                          [](auto& o, std::uint64_t n) { o.journal.segment_size = n; }));
  s.push_back({"disk-limit", "100GiB",
               "journal size past which persistent SENDs get ERROR (0 = only the disk's own limit)",
               [](Config& o, const std::string& v) -> Status {
                 std::uint64_t n = 0;
                 if (!parse_size(v, n)) return failure("expected a size such as 100GiB, or 0");
                 o.broker.disk_limit = n;
                 return {};
               }});
  s.push_back({"skip-corrupt", "false",
               "start even if a journal record in the middle is corrupt (it is reported and skipped)",
               [](Config& o, const std::string& v) -> Status {
                 if (v == "true") o.journal.skip_corrupt = true;
                 else if (v == "false") o.journal.skip_corrupt = false;
                 else return failure("expected true or false");
                 return {};
               }});
  // Streams (docs/streams.md "Using streams over STOMP"); RabbitMQ's names.
  s.push_back({"stream-max-segment-size", "500000000",
               "bytes of a stream segment file before it rolls (RabbitMQ's x-stream-max-segment-size-bytes)",
               [](Config& o, const std::string& v) -> Status {
                 std::uint64_t n = 0;
                 if (!parse_size(v, n) || n < 4096 || n > stream::format::kMaxSegmentBytesLimit)
                   return failure("expected a size from 4KiB to 2GiB");
                 o.broker.streams.max_segment_bytes = n;
                 return {};
               }});
  s.push_back({"stream-max-age", "0",
               "stream retention by age: whole segments older than this go, checked every second "
               "(RabbitMQ's x-max-age: 7D, 12h, 30m, 10s, 1M, 1Y; 0 = keep)",
               [](Config& o, const std::string& v) -> Status {
                 if (v == "0" || v.empty()) {
                   o.broker.streams.max_age_ms = 0;
                   return {};
                 }
                 auto ms = stream::parse_max_age(v);
                 if (!ms) return failure("expected 0 or a number and one unit Y, M, D, h, m or s, such as 7D");
                 o.broker.streams.max_age_ms = *ms;
                 return {};
               }});
  s.push_back({"stream-max-length-bytes", "0",
               "stream retention by size: oldest whole segments go while a stream is larger (RabbitMQ's "
               "x-max-length-bytes; 0 = keep)",
               [](Config& o, const std::string& v) -> Status {
                 std::uint64_t n = 0;
                 if (!parse_size(v, n)) return failure("expected a size such as 10GiB, or 0");
                 o.broker.streams.max_length_bytes = n;
                 return {};
               }});
  s.push_back(size_option("stream-compaction-buffer-size", "128MiB",
                          "memory of a compaction run's key map per shard (Kafka's log.cleaner.dedupe.buffer.size, "
                          "about 64 bytes a key); more distinct keys are compacted over several runs",
                          [](auto& o, std::uint64_t n) { o.broker.streams.compaction_buffer_bytes = n; }));
  s.push_back(count_option("max-streams", "10000",
                           "streams per vhost (all shards); a SEND or SUBSCRIBE that would create one more gets "
                           "ERROR (0 = no limit)",
                           [](auto& o, std::uint32_t n) { o.broker.streams.max_streams = n; }, true));
  s.push_back(count_option("max-stream-groups", "1000",
                           "consumer groups per stream (with members or a committed offset); a SUBSCRIBE with "
                           "one more group gets ERROR (0 = no limit)",
                           [](auto& o, std::uint32_t n) { o.broker.streams.max_groups = n; }, true));
  s.push_back(count_option("max-stream-partitions", "256",
                           "partitions a stream may be declared with (x-stream-partitions); a declaration of "
                           "more gets ERROR (at most 4096)",
                           [](auto& o, std::uint32_t n) { o.broker.streams.max_partitions = n; }));
  s.push_back({"persistent-default", "/queue/>,/topic/>",
               "destinations whose messages are persistent unless the SEND says persistent:false "
               "(comma-separated; * = one name segment, > = the rest; empty = none)",
               [](Config& o, const std::string& v) -> Status {
                 o.broker.persistent_default.clear();
                 std::size_t start = 0;
                 while (start <= v.size() && !v.empty()) {
                   auto comma = v.find(',', start);
                   std::string p = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
                   while (!p.empty() && p.front() == ' ') p.erase(p.begin());
                   while (!p.empty() && p.back() == ' ') p.pop_back();
                   if (!p.empty()) {
                     if (p.front() != '/') return failure("patterns start with /queue/ or /topic/");
                     o.broker.persistent_default.push_back(p);
                   }
                   if (comma == std::string::npos) break;
                   start = comma + 1;
                 }
                 return {};
               }});
  s.push_back({"http-listen", "127.0.0.1:15672",
               "management HTTP API, metrics and web console, HOST:PORT (port 0 picks a free port; "
               "\"\" disables it)",
               [](Config& o, const std::string& v) -> Status {
                 if (v.empty()) {
                   o.http.enabled = false;
                   return {};
                 }
                 std::string host;
                 std::uint16_t port = 0;
                 if (!parse_host_port(v, host, port)) return failure("expected HOST:PORT or \"\"");
                 o.http.enabled = true;
                 o.http.host = host;
                 o.http.port = port;
                 return {};
               }});
  s.push_back(listener_option("https-listen",
                              "management API, metrics and web console over TLS (HTTPS), HOST:PORT, e.g. "
                              "0.0.0.0:15671 (empty = off; tls-cert-file, tls-key-file, tls-verify-client apply)",
                              [](Config& o) -> net::ListenAddress& { return o.http.https_listen; }));
  s.push_back(count_option("http-max-connections", "100",
                           "open management HTTP and HTTPS connections together; more get 503 (HTTPS: closed)",
                           [](auto& o, std::uint32_t n) { o.http.max_connections = n; }));
  s.push_back(count_option("http-max-connections-per-address", "20",
                           "open management HTTP and HTTPS connections from one client address; more get 503 "
                           "(HTTPS: closed); 0 = no limit (behind a reverse proxy)",
                           [](auto& o, std::uint32_t n) { o.http.max_connections_per_address = n; }, true));
  s.push_back(count_option("http-header-timeout", "10000",
                           "ms a management HTTP connection may take to send a request's line and headers "
                           "(also the keep-alive idle limit and the TLS handshake's); then it is closed",
                           [](auto& o, std::uint32_t n) { o.http.header_timeout_ms = n; }));
  s.push_back(count_option("http-body-timeout", "30000",
                           "ms a management HTTP request may take to send its body after the headers; then "
                           "the connection is closed",
                           [](auto& o, std::uint32_t n) { o.http.body_timeout_ms = n; }));
  // Users, vhosts, permissions (docs/security.md).
  s.push_back({"users-file", "", "TOML file of users, vhosts and permissions (ferry user ..., the management API; re-read when it changes); \"\" = only the built-in guest",
               [](Config& o, const std::string& v) -> Status {
                 o.auth.users_file = v;
                 return {};
               }});
  s.push_back({"loopback-users", "guest",
               "users who may connect only from the broker's own machine (comma-separated; TOML list; empty = none)",
               [](Config& o, const std::string& v) -> Status {
                 o.auth.loopback_users.clear();
                 std::size_t start = 0;
                 while (start < v.size()) {
                   auto comma = v.find(',', start);
                   std::string u = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
                   while (!u.empty() && u.front() == ' ') u.erase(u.begin());
                   while (!u.empty() && u.back() == ' ') u.pop_back();
                   if (!u.empty()) o.auth.loopback_users.push_back(u);
                   if (comma == std::string::npos) break;
                   start = comma + 1;
                 }
                 return {};
               },
               /*list=*/true});
  s.push_back({"default-user", "guest", "user of a CONNECT without login (\"\" = login required)",
               [](Config& o, const std::string& v) -> Status {
                 o.auth.default_user = v;
                 return {};
               }});
  s.push_back({"ssl-cert-login", "false",
               "a CONNECT without login over TLS with a verified client certificate logs in as the certificate's CN "
               "(RabbitMQ's stomp.ssl_cert_login; needs tls-verify-client optional or required)",
               [](Config& o, const std::string& v) -> Status {
                 if (v == "true") o.auth.ssl_cert_login = true;
                 else if (v == "false") o.auth.ssl_cert_login = false;
                 else return failure("expected true or false");
                 return {};
               }});
  s.push_back({"default-vhost", "/", "vhost of a CONNECT whose host header names no vhost (or is missing)",
               [](Config& o, const std::string& v) -> Status {
                 if (v.empty()) return failure("must not be empty");
                 o.auth.default_vhost = v;
                 return {};
               }});
  s.push_back(count_option("login-failure-delay", "1000", "ms before the ERROR of a refused login is sent (0 = none)",
                           [](auto& o, std::uint32_t n) { o.auth.login_failure_delay_ms = n; }, true));
  s.push_back(count_option("max-login-failures", "10",
                           "failed logins per client address per minute before logins from it are refused unchecked (0 = no limit)",
                           [](auto& o, std::uint32_t n) { o.auth.max_login_failures = n; }, true));
  // The cluster (docs/cluster.md): off without cluster-etcd.
  s.push_back({"cluster-etcd", "",
               "etcd endpoints of the cluster, http://HOST:PORT (comma-separated; TOML list); empty = a single "
               "broker, no cluster",
               [](Config& o, const std::string& v) -> Status {
                 o.cluster.etcd_endpoints.clear();
                 std::size_t start = 0;
                 while (start < v.size()) {
                   auto comma = v.find(',', start);
                   std::string e = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
                   while (!e.empty() && e.front() == ' ') e.erase(e.begin());
                   while (!e.empty() && e.back() == ' ') e.pop_back();
                   if (!e.empty()) {
                     if (Status ok = cluster::check_etcd_endpoint(e); !ok) return ok;
                     o.cluster.etcd_endpoints.push_back(e);
                   }
                   if (comma == std::string::npos) break;
                   start = comma + 1;
                 }
                 return {};
               },
               /*list=*/true});
  // Names become etcd keys (/ferry/<cluster-name>/members/<node-name>).
  auto name_ok = [](const std::string& v) {
    return v.size() <= 64 && std::all_of(v.begin(), v.end(), [](unsigned char c) {
             return std::isalnum(c) || c == '-' || c == '_' || c == '.';
           });
  };
  s.push_back({"node-name", "", "this broker's name in the cluster, unique in it (\"\" = the host name)",
               [name_ok](Config& o, const std::string& v) -> Status {
                 if (!name_ok(v)) return failure("expected up to 64 letters, digits, '-', '_' or '.'");
                 o.cluster.node_name = v;
                 return {};
               }});
  s.push_back({"cluster-name", "ferry",
               "the cluster's name: its keys in etcd are under /ferry/<cluster-name>/ (several clusters may share "
               "one etcd)",
               [name_ok](Config& o, const std::string& v) -> Status {
                 if (v.empty() || !name_ok(v)) return failure("expected 1 to 64 letters, digits, '-', '_' or '.'");
                 o.cluster.cluster_name = v;
                 return {};
               }});
  s.push_back(count_option("cluster-lease-ttl", "10",
                           "seconds a broker stays a member (and controller) after its last keep-alive to etcd; a "
                           "killed controller is replaced within about this time",
                           [](auto& o, std::uint32_t n) { o.cluster.lease_ttl_s = n; }));
  s.push_back({"cluster-listen", "",
               "replication between brokers of the cluster, HOST:PORT (port 0 picks a free port, published in "
               "etcd); \"\" = off",
               [](Config& o, const std::string& v) -> Status {
                 if (v.empty()) {
                   o.cluster.replication_enabled = false;
                   return {};
                 }
                 std::string host;
                 std::uint16_t port = 0;
                 if (!parse_host_port(v, host, port)) return failure("expected HOST:PORT or \"\"");
                 o.cluster.replication_enabled = true;
                 o.cluster.replication_host = host;
                 o.cluster.replication_port = port;
                 return {};
               }});
  s.push_back(count_option("cluster-replication-factor", "3",
                           "replicas of each replicated stream (capped by the live brokers with cluster-listen)",
                           [](auto& o, std::uint32_t n) { o.cluster.replication_factor = n; }));
  s.push_back(count_option("min-insync-replicas", "2",
                           "in-sync replicas a replicated write needs before it is confirmed (RECEIPT); fewer: "
                           "the SEND gets an ERROR (capped by the stream's replicas)",
                           [](auto& o, std::uint32_t n) { o.cluster.min_insync = n; }));
  return s;
}

// nullopt: a type no option takes (a table, a date, a list of numbers).
std::optional<std::string> toml_value_text(const toml::node& n) {
  if (auto s = n.value<std::string>()) return *s;
  if (n.is_integer()) return std::to_string(*n.value<std::int64_t>());
  if (n.is_floating_point()) return std::to_string(*n.value<double>());
  if (n.is_boolean()) return *n.value<bool>() ? "true" : "false";
  if (auto* a = n.as_array()) {  // a list of strings: comma-separated, as on the command line
    std::string out;
    for (const toml::node& item : *a) {
      auto s = item.value<std::string>();
      if (!s) return std::nullopt;
      if (!out.empty()) out += ',';
      out += *s;
    }
    return out;
  }
  return std::nullopt;
}

}  // namespace

const std::vector<OptionSpec>& option_specs() {
  static const std::vector<OptionSpec> specs = build_specs();
  return specs;
}

bool parse_size(const std::string& text, std::uint64_t& out) {
  std::size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) return false;
  std::uint64_t n = 0;
  if (!parse_number(text.substr(0, i), n)) return false;
  std::string unit = text.substr(i);
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::tolower(c); });
  std::uint64_t mul = 1;
  if (unit.empty() || unit == "b") mul = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib") mul = 1ull << 10;
  else if (unit == "m" || unit == "mb" || unit == "mib") mul = 1ull << 20;
  else if (unit == "g" || unit == "gb" || unit == "gib") mul = 1ull << 30;
  else return false;
  if (n > UINT64_MAX / mul) return false;
  out = n * mul;
  return true;
}

namespace {

// Options that name files: relative in a file means relative to that file.
bool is_path_option(std::string_view name) {
  return name == "data-dir" || name == "users-file" || name == "tls-cert-file" || name == "tls-key-file" ||
         name == "tls-ca-file";
}

std::string toml_quoted(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Result<Config> load_options(const std::string& config_path,
                            const std::vector<std::pair<std::string, std::string>>& cli_values,
                            std::vector<EffectiveValue>* effective) {
  Config o;
  std::vector<EffectiveValue> values;
  for (const OptionSpec& spec : option_specs()) values.push_back({spec.name, spec.default_value, "default"});
  auto apply = [&](const std::string& name, std::string value, const std::string& source) -> Status {
    for (std::size_t i = 0; i < option_specs().size(); ++i) {
      const OptionSpec& spec = option_specs()[i];
      if (spec.name != name) continue;
      if (source == config_path && is_path_option(name) && !value.empty() &&
          std::filesystem::path(value).is_relative()) {
        value = (std::filesystem::absolute(config_path).parent_path() / value).lexically_normal().string();
      }
      if (Status applied = spec.apply(o, value); !applied)
        return failure(source + ": invalid value '" + value + "' for " + name, applied.error().text());
      values[i] = {name, value, source};
      return {};
    }
    return failure(source + ": unknown option '" + name + "'");
  };
  for (const OptionSpec& spec : option_specs()) {
    // The defaults are the table's own: one that does not apply is a bug.
    Status applied = apply(spec.name, spec.default_value, "default");
    FERRY_ASSERT(applied.ok());
  }
  if (!config_path.empty()) {
    toml::table table;
    try {
      table = toml::parse_file(config_path);
    } catch (const toml::parse_error& e) {  // toml++ throws: its boundary
      return failure(config_path, std::string(e.description()));
    }
    for (const auto& [key, node] : table) {
      // A named copy: clang 14 cannot capture a structured binding.
      const std::string_view name = key.str();
      const bool list_option = std::any_of(option_specs().begin(), option_specs().end(), [&](const OptionSpec& s) {
        return s.list && s.name == name;
      });
      if (node.is_array() && !list_option)
        return failure(config_path + ": option '" + std::string(name) + "' must be a string or number, not a list");
      std::optional<std::string> text = toml_value_text(node);
      if (!text)
        return failure(config_path + ": option '" + std::string(name) +
                       "' must be a string, number or list of strings");
      if (Status applied = apply(std::string(name), *text, config_path); !applied) return applied.error();
    }
  }
  for (const auto& [name, value] : cli_values)
    if (Status applied = apply(name, value, "--" + name); !applied) return applied.error();
  if (effective != nullptr) *effective = std::move(values);
  return o;
}

std::string default_config_path() {
  if (const char* env = std::getenv("FERRY_CONFIG")) return env;
  for (const char* candidate : {"ferry.toml", "/etc/ferry/ferry.toml"}) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
  }
  return "";
}

std::string config_as_toml(const std::vector<EffectiveValue>& values) {
  std::string out = "# the effective configuration of ferry serve (value, then where it came from)\n";
  for (std::size_t i = 0; i < values.size(); ++i) {
    const EffectiveValue& v = values[i];
    const OptionSpec& spec = option_specs()[i];
    std::string value;
    if (spec.list) {
      value = "[";
      std::size_t start = 0;
      bool first = true;
      while (start <= v.value.size() && !v.value.empty()) {
        std::size_t comma = v.value.find(',', start);
        std::string item = v.value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        value += (first ? "" : ", ") + toml_quoted(item);
        first = false;
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      value += "]";
    } else {
      value = toml_quoted(v.value);
    }
    out += v.name + " = " + value + "  # " + v.source + "\n";
  }
  return out;
}

}  // namespace ferry::app
