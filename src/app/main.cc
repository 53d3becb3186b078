#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <iterator>

#include "app/admin.h"
#include "app/config.h"
#include "app/serve.h"
#include "app/stomp_client.h"
#include "app/user_command.h"
#include "bench/bench.h"
#include "bench/options.h"
#include "common/log.h"
#include "common/version.h"

using namespace ferry;

namespace {

// How a command line run ends when it did not succeed: the one place an
// Error becomes output and an exit code. "WHO: TEXT" on stderr; 2 when what
// was typed (or written in ferry.toml) is wrong, as usage errors do; 1 when
// the command itself failed (unreachable, refused, a file it cannot write).
enum class Exit { kFailure = 1, kUsage = 2 };
int exit_with(const Error& e, Exit code, const std::string& who = "ferry") {
  std::cerr << who << ": " << e.text() << "\n";
  return static_cast<int>(code);
}

using Headers = std::vector<std::pair<std::string, std::string>>;

// `-H name:value` options, after the destination header.
Result<Headers> parse_headers(const std::string& destination, const std::vector<std::string>& given) {
  Headers h{{"destination", destination}};
  for (const std::string& kv : given) {
    auto colon = kv.find(':');
    if (colon == std::string::npos) return failure("header must be name:value, got " + kv);
    h.emplace_back(kv.substr(0, colon), kv.substr(colon + 1));
  }
  return h;
}

struct Login {
  std::string login, passcode;
};

// A bare name means a queue, as in ActiveMQ: "orders" -> "/queue/orders".
std::string destination_of(const std::string& d) { return d.starts_with('/') ? d : "/queue/" + d; }

// --user without --password (nor FERRY_PASSWORD): ask on the terminal, as
// rabbitmqadmin and psql do. Not when stdin is not a terminal (a piped body).
void prompt_password(Login& who) {
  if (who.login.empty() || !who.passcode.empty() || !::isatty(STDIN_FILENO)) return;
  std::cerr << "password for " << who.login << ": " << std::flush;
  termios old{};
  const bool tty = ::tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::getline(std::cin, who.passcode);
  if (tty) ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
  std::cerr << "\n";
}

// The connection options every STOMP subcommand spells the same way, each
// also read from a FERRY_* environment variable. The older spellings stay
// as aliases (--host, --login, --passcode).
void add_connection_options(CLI::App* c, std::string& server, std::string& vhost, Login& who) {
  c->add_option("-s,--server", server, "broker HOST:PORT (STOMP)")->envname("FERRY_SERVER")->capture_default_str();
  c->add_option("--vhost,--host", vhost, "virtual host (the STOMP host header)")
      ->envname("FERRY_VHOST")
      ->capture_default_str();
  c->add_option("-u,--user,--login", who.login, "user (default: none, the broker's default-user)")
      ->envname("FERRY_USER");
  c->add_option("-p,--password,--passcode", who.passcode,
                "password of --user (asked on the terminal when missing)")
      ->envname("FERRY_PASSWORD");
}

Result<int> run_send(const std::string& server, const std::string& vhost, const Login& who, const Headers& h,
                     std::optional<std::string> body, bool receipt) {
  if (!body) {
    body = std::string(std::istreambuf_iterator<char>(std::cin), {});
    // `echo x | ferry send q` sends "x", as `$(echo x)` would: the one line
    // end that echo adds is not part of the message.
    if (body->ends_with("\r\n")) body->resize(body->size() - 2);
    else if (body->ends_with('\n')) body->pop_back();
  }
  app::StompClient client;
  if (Status connected = client.connect(server, vhost, who.login, who.passcode); !connected)
    return connected.error();
  Status sent = receipt ? client.send_with_receipt("SEND", h, *body) : client.send_frame("SEND", h, *body);
  if (!sent) return sent.error();
  client.disconnect();
  return 0;
}

Result<int> run_recv(const std::string& server, const std::string& vhost, const Login& who,
                     const std::string& destination, int count, const std::string& ack, int prefetch,
                     double timeout_s, bool show_headers) {
  app::StompClient client;
  if (Status connected = client.connect(server, vhost, who.login, who.passcode); !connected)
    return connected.error();
  std::vector<std::pair<std::string, std::string>> h{{"destination", destination}, {"id", "0"}, {"ack", ack}};
  if (prefetch > 0) {
    h.emplace_back("prefetch-count", std::to_string(prefetch));
    h.emplace_back("activemq.prefetchSize", std::to_string(prefetch));
  }
  if (Status subscribed = client.send_with_receipt("SUBSCRIBE", h); !subscribed) return subscribed.error();
  int got = 0;
  auto wait = timeout_s > 0 ? std::chrono::milliseconds(static_cast<long long>(timeout_s * 1000))
                            : std::chrono::milliseconds(24LL * 3600 * 1000);
  while (count <= 0 || got < count) {
    auto read = client.read_frame(wait);
    if (!read) return read.error();
    std::optional<app::StompClient::Frame>& f = *read;
    if (!f) break;
    if (f->command != "MESSAGE") continue;
    if (show_headers) {
      for (const auto& [k, v] : f->headers) std::cout << k << ":" << v << "\n";
      std::cout << "\n";
    }
    std::cout << f->body << std::endl;
    if (ack != "auto") {
      if (auto id = f->get("ack")) {
        if (Status acked = client.send_frame("ACK", {{"id", *id}}); !acked) return acked.error();
      }
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
  CLI::App app{"Ferry: a fast STOMP message broker", "ferry"};
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", "ferry " + std::string(kVersion));
  app.footer("Run 'ferry SUBCOMMAND --help' for a subcommand's options.");

  auto* help = app.add_subcommand("help", "show this help, or a subcommand's (ferry help serve)");
  std::string help_topic;
  help->add_option("subcommand", help_topic, "the subcommand to explain");

  // serve
  auto* serve = app.add_subcommand("serve", "run the broker");
  std::string config_path;
  serve->add_option("--config", config_path,
                    "read options from this ferry.toml (default: $FERRY_CONFIG, else ./ferry.toml, else "
                    "/etc/ferry/ferry.toml, if it exists)")
      ->check(CLI::ExistingFile);
  bool check_config = false, print_config = false;
  serve->add_flag("--check-config", check_config, "check the configuration (and the users file) and exit");
  serve->add_flag("--print-config", print_config,
                  "print the effective configuration as a ferry.toml, each value's source beside it, and exit");
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
  send->add_option("destination", destination, "/queue/NAME, /topic/NAME, ... (a bare NAME is /queue/NAME)")
      ->required();
  send->add_option("body", body, "message body (default: read stdin, without its last line end)");
  Login who;
  add_connection_options(send, server, vhost, who);
  send->add_option("-H,--header", headers, "extra header name:value (repeatable)");
  send->add_flag("--no-receipt", no_receipt, "do not wait for the broker's RECEIPT");

  // recv
  auto* recv = app.add_subcommand("recv", "receive messages and print their bodies");
  int count = 0, prefetch = 0;
  std::string ack = "auto";
  double timeout_s = 0;
  bool show_headers = false;
  recv->add_option("destination", destination, "/queue/NAME, /topic/NAME, ... (a bare NAME is /queue/NAME)")
      ->required();
  recv->add_option("-n,--count", count, "stop after N messages (default: run until the timeout or Ctrl-C)");
  recv->add_option("--ack", ack, "auto, client or client-individual")
      ->check(CLI::IsMember({"auto", "client", "client-individual"}))
      ->capture_default_str();
  recv->add_option("--prefetch", prefetch, "prefetch window (messages)");
  recv->add_option("--timeout", timeout_s, "give up after this many seconds without a message");
  add_connection_options(recv, server, vhost, who);
  recv->add_flag("--headers", show_headers, "print each message's headers before its body");

  // bench
  auto* bench_cmd = app.add_subcommand("bench", "load-test a STOMP broker (or loopback TCP); prints a summary and a JSON line");
  bench::Options bench_options;
  bench::add_options(*bench_cmd, bench_options);

  // queues, topics, connections, subscriptions, purge, move, ... (management API clients)
  app::AdminCommands admin(app);
  // user, vhost
  app::UserCommands user_commands(app);

  // Usage errors exit 2 (with one line saying what was wrong), failures 1,
  // help and --version 0.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::cerr << "ferry: " << e.what() << "\nRun 'ferry --help' for usage.\n";
    return 2;
  }
  if (app.get_subcommands().empty()) {
    std::cout << app.help();
    return 0;
  }
  if (help->parsed()) {
    if (help_topic.empty()) {
      // app.help() would explain the selected subcommand, `help` itself.
      std::cout << app.get_formatter()->make_help(&app, "ferry", CLI::AppFormatMode::Normal);
      return 0;
    }
    try {
      std::cout << app.get_subcommand(help_topic)->help();
      return 0;
    } catch (const CLI::OptionNotFound&) {
      std::cerr << "ferry: no subcommand '" << help_topic << "'\nRun 'ferry --help' for usage.\n";
      return 2;
    }
  }

  // Every subcommand answers with an exit code or an Error; exit_with()
  // turns an Error into its line and code. The catch at the end is a
  // backstop, not a way to report: an exception that gets here escaped the
  // boundary of the library that threw it (a bug to fix there).
  try {
    if (serve->parsed()) {
      for (std::size_t i = 0; i < app::option_specs().size(); ++i) {
        const auto& spec = app::option_specs()[i];
        if (serve->count("--" + spec.name) > 0) cli_values.emplace_back(spec.name, raw[i]);
      }
      if (serve->count("--config") == 0) config_path = app::default_config_path();
      std::vector<app::EffectiveValue> effective;
      auto loaded = app::load_options(config_path, cli_values, &effective);
      if (!loaded) return exit_with(loaded.error(), Exit::kUsage);
      const app::Config& options = *loaded;
      if (print_config) {
        std::cout << app::config_as_toml(effective);
        return 0;
      }
      init_logging(options.log_level, options.log_json);
      const std::string source = config_path.empty() ? "built-in defaults (no ferry.toml found)" : config_path;
      if (check_config) return app::check_config(options, source);
      spdlog::info("configuration: {}", source);
      // SIGHUP reads the configuration again (the same file and flags).
      auto reload = [config_path, cli_values](std::vector<app::EffectiveValue>& values) {
        return app::load_options(config_path, cli_values, &values);
      };
      return app::serve(options, effective, reload);
    }
    Result<int> done = 0;
    if (user_commands.parsed()) {
      done = user_commands.run();
    } else if (send->parsed()) {
      auto h = parse_headers(destination_of(destination), headers);
      if (!h) return exit_with(h.error(), Exit::kUsage);
      prompt_password(who);
      done = run_send(server, vhost, who, *h, body, !no_receipt);
    } else if (bench_cmd->parsed()) {
      if (Status usable = bench::validate(bench_options); !usable)
        return exit_with(usable.error(), Exit::kUsage, "ferry bench");
      return bench::run(bench_options, std::cout, std::cerr);
    } else if (auto admin_done = admin.run(std::cout, std::cerr)) {
      if (!*admin_done) return exit_with(admin_done->error(), Exit::kFailure, "ferry " + admin.name());
      return **admin_done;
    } else if (recv->parsed()) {
      prompt_password(who);
      done = run_recv(server, vhost, who, destination_of(destination), count, ack, prefetch, timeout_s,
                      show_headers);
    }
    if (!done) return exit_with(done.error(), Exit::kFailure);
    return *done;
  } catch (const std::exception& e) {
    std::cerr << "ferry: " << e.what() << "\n";
    return 1;
  }
}
