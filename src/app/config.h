#pragma once

#include <functional>
#include <string>
#include <vector>

#include "auth/auth_options.h"
#include "broker/options.h"
#include "cluster/cluster_options.h"
#include "common/result.h"
#include "http/http_options.h"
#include "net/listener_options.h"
#include "session/stomp_options.h"
#include "store/journal.h"

namespace ferry::app {

// The configuration of `ferry serve`: every option, each in one place.
// Each layer gets its own part (the listeners, the STOMP sessions, the
// management API, the broker, the logins, the journal); what several need
// is passed from here, never copied into a second field.
struct Config {
  std::string log_level = "info";
  bool log_json = false;  // log-format = json
  // The journal (<data-dir>, opened with store::JournalOptions::directory
  // set from it) and declared-queues.json.
  std::string data_dir = "./data";
  net::ListenerOptions listen;
  // mqtt-listen: MQTT 3.1.1 and 5 over TCP (docs/mqtt.md); off when empty.
  // Its connections are bound by the same limits as listen's.
  net::ListenAddress mqtt_listen;
  // mqtt-tls-listen, mqtt-ws-listen, mqtt-wss-listen: MQTT over TLS (with
  // listen's TLS files), WebSocket and WebSocket over TLS (subprotocol
  // "mqtt", path mqtt-ws-path); off when empty.
  net::ListenAddress mqtt_tls_listen;
  net::ListenAddress mqtt_ws_listen;
  net::ListenAddress mqtt_wss_listen;
  std::string mqtt_ws_path = "/mqtt";
  // MQTT retained messages, all vhosts together (docs/mqtt.md): topics
  // (mqtt-max-retained, 0 = no limit) and topic + payload bytes
  // (mqtt-max-retained-bytes).
  std::uint32_t mqtt_max_retained = 100000;
  std::uint64_t mqtt_max_retained_bytes = std::uint64_t{128} << 20;
  session::StompOptions stomp;
  http::HttpOptions http;
  broker::BrokerOptions broker;
  auth::AuthOptions auth;
  store::JournalOptions journal;  // its directory is data_dir
  cluster::ClusterOptions cluster;  // off without cluster-etcd (docs/cluster.md)
};

// One `ferry serve` option: the same name on the command line (--name), in
// ferry.toml (name = ...) and in the README.
struct OptionSpec {
  std::string name;
  std::string default_value;
  std::string help;
  // Parses `value` into the options; an Error says what was expected.
  std::function<Status(Config&, const std::string& value)> apply;
  // A list: in TOML a list of strings, on the command line comma-separated.
  bool list = false;
};

// Every option of `ferry serve` except --config itself.
const std::vector<OptionSpec>& option_specs();

// One option's value as it was finally applied, and where it came from
// ("default", the file's path, or "--name").
struct EffectiveValue {
  std::string name;
  std::string value;
  std::string source;
};

// Applies defaults, then the TOML file (if `config_path` is not empty), then
// the command-line values given (name -> value). An Error naming the
// option and the source on a bad value (the CLI exits 2 with it). A relative path
// in the file (data-dir, users-file, the TLS files) is relative to the
// file's directory, so a service's data does not depend on its working
// directory; on the command line it is relative to the working directory.
// `effective` (if not null) gets every option's final value, in option order.
Result<Config> load_options(const std::string& config_path,
                            const std::vector<std::pair<std::string, std::string>>& cli_values,
                            std::vector<EffectiveValue>* effective = nullptr);

// The ferry.toml `ferry serve` reads when --config is not given: the file
// $FERRY_CONFIG names (set but empty: none), else ./ferry.toml, else
// /etc/ferry/ferry.toml, if it exists; "" when there is none.
std::string default_config_path();

// The effective configuration as a ferry.toml (`ferry serve --print-config`).
std::string config_as_toml(const std::vector<EffectiveValue>& values);

// "16MiB" -> 16777216. Accepts B, K/KB/KiB, M/MB/MiB, G/GB/GiB (binary).
bool parse_size(const std::string& text, std::uint64_t& out);

}  // namespace ferry::app
