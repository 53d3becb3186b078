#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>
#include <iterator>

#include "app/admin.h"
#include "app/config.h"
#include "app/serve.h"
#include "app/stomp_client.h"
#include "bench/bench.h"
#include "bench/options.h"
#include "common/log.h"

using namespace ferry;

namespace {

int run_send(const std::string& server, const std::string& vhost, const std::string& destination,
             std::optional<std::string> body, const std::vector<std::string>& headers, bool receipt) {
  if (!body) body = std::string(std::istreambuf_iterator<char>(std::cin), {});
  std::vector<std::pair<std::string, std::string>> h{{"destination", destination}};
  for (const std::string& kv : headers) {
    auto colon = kv.find(':');
    if (colon == std::string::npos) throw std::runtime_error("header must be name:value, got " + kv);
    h.emplace_back(kv.substr(0, colon), kv.substr(colon + 1));
  }
  app::StompClient client(server, vhost);
  if (receipt) client.send_with_receipt("SEND", h, *body);
  else client.send_frame("SEND", h, *body);
  client.disconnect();
  return 0;
}

int run_recv(const std::string& server, const std::string& vhost, const std::string& destination,
             int count, const std::string& ack, int prefetch, double timeout_s, bool show_headers) {
  app::StompClient client(server, vhost);
  std::vector<std::pair<std::string, std::string>> h{{"destination", destination}, {"id", "0"}, {"ack", ack}};
  if (prefetch > 0) {
    h.emplace_back("prefetch-count", std::to_string(prefetch));
    h.emplace_back("activemq.prefetchSize", std::to_string(prefetch));
  }
  client.send_with_receipt("SUBSCRIBE", h);
  int got = 0;
  auto wait = timeout_s > 0 ? std::chrono::milliseconds(static_cast<long long>(timeout_s * 1000))
                            : std::chrono::milliseconds(24LL * 3600 * 1000);
  while (count <= 0 || got < count) {
    auto f = client.read_frame(wait);
    if (!f) break;
    if (f->command != "MESSAGE") continue;
    if (show_headers) {
      for (const auto& [k, v] : f->headers) std::cout << k << ":" << v << "\n";
      std::cout << "\n";
    }
    std::cout << f->body << std::endl;
    if (ack != "auto") {
      if (auto id = f->get("ack")) client.send_frame("ACK", {{"id", *id}});
    }
    ++got;
  }
  client.disconnect();
  if (count > 0 && got < count) {
    std::cerr << "ferry recv: received " << got << " of " << count << " messages before the timeout\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"Ferry: a fast STOMP message broker"};
  app.require_subcommand(1);

  // serve
  auto* serve = app.add_subcommand("serve", "run the broker");
  std::string config_path;
  serve->add_option("--config", config_path, "read options from this ferry.toml")->check(CLI::ExistingFile);
  std::vector<std::pair<std::string, std::string>> cli_values;
  std::vector<std::string> raw(app::option_specs().size());
  for (std::size_t i = 0; i < app::option_specs().size(); ++i) {
    const auto& spec = app::option_specs()[i];
    serve->add_option("--" + spec.name, raw[i], spec.help + " [default: " + spec.default_value + "]");
  }

  // send
  auto* send = app.add_subcommand("send", "send one message (body from the argument or stdin)");
  std::string server = "127.0.0.1:61613", vhost = "/", destination;
  std::optional<std::string> body;
  std::vector<std::string> headers;
  bool no_receipt = false;
  send->add_option("destination", destination, "/queue/NAME or /topic/NAME")->required();
  send->add_option("body", body, "message body (default: read stdin)");
  send->add_option("-s,--server", server, "broker HOST:PORT")->capture_default_str();
  send->add_option("--host", vhost, "virtual host (STOMP host header)")->capture_default_str();
  send->add_option("-H,--header", headers, "extra header name:value (repeatable)");
  send->add_flag("--no-receipt", no_receipt, "do not wait for the broker's RECEIPT");

  // recv
  auto* recv = app.add_subcommand("recv", "receive messages and print their bodies");
  int count = 0, prefetch = 0;
  std::string ack = "auto";
  double timeout_s = 0;
  bool show_headers = false;
  recv->add_option("destination", destination, "/queue/NAME or /topic/NAME")->required();
  recv->add_option("-n,--count", count, "stop after N messages (default: run until the timeout or Ctrl-C)");
  recv->add_option("--ack", ack, "auto, client or client-individual")
      ->check(CLI::IsMember({"auto", "client", "client-individual"}))
      ->capture_default_str();
  recv->add_option("--prefetch", prefetch, "prefetch window (messages)");
  recv->add_option("--timeout", timeout_s, "give up after this many seconds without a message");
  recv->add_option("-s,--server", server, "broker HOST:PORT")->capture_default_str();
  recv->add_option("--host", vhost, "virtual host (STOMP host header)")->capture_default_str();
  recv->add_flag("--headers", show_headers, "print each message's headers before its body");

  // bench
  auto* bench_cmd = app.add_subcommand("bench", "load-test a STOMP broker (or loopback TCP); prints a summary and a JSON line");
  bench::Options bench_options;
  bench::add_options(*bench_cmd, bench_options);

  // queues, topics, connections, subscriptions, purge, move, ... (management API clients)
  app::AdminCommands admin(app);

  CLI11_PARSE(app, argc, argv);

  try {
    if (serve->parsed()) {
      for (std::size_t i = 0; i < app::option_specs().size(); ++i) {
        const auto& spec = app::option_specs()[i];
        if (serve->count("--" + spec.name) > 0) cli_values.emplace_back(spec.name, raw[i]);
      }
      net::ServerOptions options = app::load_options(config_path, cli_values);
      init_logging(options.log_level);
      return app::serve(options);
    }
    if (send->parsed()) return run_send(server, vhost, destination, body, headers, !no_receipt);
    if (bench_cmd->parsed()) {
      if (auto problem = bench::validate(bench_options)) {
        std::cerr << "ferry bench: " << *problem << "\n";
        return 2;
      }
      return bench::run(bench_options, std::cout, std::cerr);
    }
    if (auto code = admin.run(std::cout, std::cerr)) return *code;
    if (recv->parsed()) return run_recv(server, vhost, destination, count, ack, prefetch, timeout_s, show_headers);
  } catch (const std::exception& e) {
    std::cerr << "ferry: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
