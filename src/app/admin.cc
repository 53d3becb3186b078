#include "app/admin.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "app/http_client.h"
#include "http/request.h"

namespace ferry::app {

using Json = nlohmann::json;

struct AdminCommands::State {
  std::string http = "127.0.0.1:15672";
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
  HttpClientTls tls;  // --ca-file, --insecure, --cert-file, --key-file (https:// only)
  bool json = false;
  std::string queue, to, id;
  std::uint64_t count = 0;  // 0: all (move) / default (browse)
  CLI::App* overview = nullptr;
  CLI::App* queues = nullptr;
  CLI::App* topics = nullptr;
  CLI::App* connections = nullptr;
  CLI::App* subscriptions = nullptr;
  CLI::App* purge = nullptr;
  CLI::App* move = nullptr;
  CLI::App* close = nullptr;
  CLI::App* create = nullptr;
  CLI::App* remove = nullptr;
  CLI::App* browse = nullptr;
  CLI::App* users = nullptr;
  CLI::App* vhosts = nullptr;
  CLI::App* permissions = nullptr;
  CLI::App* ping = nullptr;
  CLI::App* check = nullptr;
  CLI::App* cluster = nullptr;         // `ferry cluster ...`
  CLI::App* cluster_status = nullptr;  // `ferry cluster status`
  std::vector<CLI::App*> all() const {
    return {overview, queues, topics, connections, subscriptions, purge, move, close, create, remove, browse,
            users, vhosts, permissions, ping, check, cluster_status};
  }
};

namespace {

// "/queue/orders" or "orders" -> "orders".
std::string queue_name(std::string q) {
  if (q.starts_with("/queue/")) q = q.substr(7);
  return q;
}

std::string text_of(const Json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_float()) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(1) << v.get<double>();
    return s.str();
  }
  return v.dump();
}

// Columns: header and the JSON path under each row ("rates/in").
void print_table(std::ostream& out, const Json& rows,
                 const std::vector<std::pair<std::string, std::string>>& columns) {
  std::vector<std::vector<std::string>> cells;
  std::vector<std::size_t> width;
  for (const auto& [h, p] : columns) width.push_back(h.size());
  for (const Json& row : rows) {
    std::vector<std::string> line;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const Json* v = &row;
      std::string path = columns[i].second;
      std::size_t start = 0;
      while (v != nullptr) {
        auto slash = path.find('/', start);
        std::string key = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        v = v->is_object() && v->contains(key) ? &(*v)[key] : nullptr;
        if (slash == std::string::npos) break;
        start = slash + 1;
      }
      line.push_back(v == nullptr ? "-" : text_of(*v));
      width[i] = std::max(width[i], line.back().size());
    }
    cells.push_back(std::move(line));
  }
  auto print_line = [&](const std::vector<std::string>& line) {
    for (std::size_t i = 0; i < line.size(); ++i) {
      out << line[i];
      if (i + 1 < line.size()) out << std::string(width[i] - line[i].size() + 2, ' ');
    }
    out << "\n";
  };
  std::vector<std::string> header;
  for (const auto& [h, p] : columns) header.push_back(h);
  print_line(header);
  for (const auto& line : cells) print_line(line);
}

// ferry ping: /healthz. ferry check: /readyz and the alarms, one line each;
// exit 1 when anything is not well.
Result<int> health(HttpClient& client, bool full, std::ostream& out, std::ostream& err) {
  auto asked = client.request("GET", "/healthz", "");
  if (!asked) return asked.error();
  const HttpClient::Response& alive = *asked;
  if (alive.status != 200) {
    err << "ferry: not alive (HTTP " << alive.status << ")\n";
    return 1;
  }
  if (!full) {
    out << "pong\n";
    return 0;
  }
  bool ok = true;
  auto ready_asked = client.request("GET", "/readyz", "");
  if (!ready_asked) return ready_asked.error();
  const HttpClient::Response& ready = *ready_asked;
  Json r = Json::parse(ready.body, nullptr, false);
  const std::string state = !r.is_discarded() && r.is_object() && r.contains("status") ? text_of(r["status"]) : "?";
  out << "status: " << state << "\n";
  ok = ok && ready.status == 200;
  auto alarms_asked = client.request("GET", "/api/health/checks/alarms", "");
  if (!alarms_asked) return alarms_asked.error();
  const HttpClient::Response& alarms = *alarms_asked;
  Json a = Json::parse(alarms.body, nullptr, false);
  if (alarms.status == 200) {
    out << "alarms: none\n";
  } else if (alarms.status == 503 && !a.is_discarded() && a.contains("alarms")) {
    std::string list;
    for (const Json& x : a["alarms"]) list += (list.empty() ? "" : ", ") + text_of(x["resource"]);
    out << "alarms: " << list << "\n";
    ok = false;
  } else {
    err << "ferry check: alarms unknown (HTTP " << alarms.status << ")\n";
    ok = false;
  }
  return ok ? 0 : 1;
}

}  // namespace

AdminCommands::AdminCommands(CLI::App& app) : state_(std::make_unique<State>()) {
  State& s = *state_;
  auto common = [&s](CLI::App* c, bool json) {
    c->add_option("--http", s.http,
                  "management API HOST:PORT (the broker's http-listen), or https://HOST:PORT (its https-listen)")
        ->envname("FERRY_HTTP")
        ->capture_default_str();
    c->add_option("--ca-file", s.tls.ca_file,
                  "with https://: PEM CA certificates to verify the broker by (default: the system trust store)");
    c->add_flag("--insecure,-k", s.tls.insecure, "with https://: do not verify the broker's certificate (like curl -k)");
    c->add_option("--cert-file", s.tls.cert_file,
                  "with https://: PEM client certificate, for a broker with tls-verify-client");
    c->add_option("--key-file", s.tls.key_file, "with https://: PEM private key of --cert-file");
    c->add_option("-u,--user", s.user, "management user")->envname("FERRY_USER")->capture_default_str();
    c->add_option("-p,--password", s.password, "its password")->envname("FERRY_PASSWORD")->capture_default_str();
    c->add_option("--vhost", s.vhost, "virtual host")->envname("FERRY_VHOST")->capture_default_str();
    if (json) c->add_flag("--json", s.json, "print the API's JSON instead of a table");
    return c;
  };
  s.overview = common(app.add_subcommand("overview", "show the broker overview (management API)"), true);
  s.queues = common(app.add_subcommand("queues", "list queues with depth, consumers and rates"), true);
  s.topics = common(app.add_subcommand("topics", "list topics"), true);
  s.connections = common(app.add_subcommand("connections", "list client connections"), true);
  s.subscriptions = common(app.add_subcommand("subscriptions", "list subscriptions"), true);
  s.purge = common(app.add_subcommand("purge", "remove the waiting messages of a queue"), true);
  s.purge->add_option("queue", s.queue, "queue name (or /queue/NAME)")->required();
  s.move = common(app.add_subcommand("move", "move waiting messages from one queue to another (e.g. DLQ.x back to x)"), true);
  s.move->add_option("from", s.queue, "source queue")->required();
  s.move->add_option("to", s.to, "target queue")->required();
  s.move->add_option("--count", s.count, "move at most N messages (default: all)");
  s.close = common(app.add_subcommand("close-connection", "close a client connection (it gets ERROR)"), false);
  s.close->add_option("id", s.id, "connection id (see ferry connections)")->required();
  s.create = common(app.add_subcommand("create-queue", "create a queue (kept while empty, and across restarts, until deleted)"), false);
  s.create->add_option("queue", s.queue, "queue name")->required();
  s.remove = common(app.add_subcommand("delete-queue", "delete a queue without consumers, and its messages"), false);
  s.remove->add_option("queue", s.queue, "queue name")->required();
  s.browse = common(app.add_subcommand("browse", "show waiting messages of a queue without consuming them"), true);
  s.browse->add_option("queue", s.queue, "queue name")->required();
  s.browse->add_option("--count", s.count, "at most N messages (1-1000, default 20)");
  // Users over the API (administrator); `ferry user ...` edits the file itself.
  s.users = common(app.add_subcommand("users", "list users and their tags (management API, administrator)"), true);
  s.vhosts = common(app.add_subcommand("vhosts", "list vhosts (management API)"), true);
  s.permissions = common(app.add_subcommand("permissions", "list permissions (management API, administrator)"), true);
  // Health, for scripts and supervisors: exit 0 when healthy, 1 when not.
  s.ping = common(app.add_subcommand("ping", "is the broker alive? (GET /healthz; exit 0 or 1)"), false);
  s.check = common(app.add_subcommand("check", "is the broker ready and free of alarms? (exit 0 or 1)"), true);
  // The cluster (docs/cluster.md): subcommands of `ferry cluster`.
  s.cluster = app.add_subcommand("cluster", "the cluster coordinated through etcd (ferry cluster status)");
  s.cluster->require_subcommand(1);
  s.cluster_status = common(s.cluster->add_subcommand("status",
                                                      "show the cluster's members, its controller and epoch as the "
                                                      "broker at --http sees them (administrator; exit 1 when that "
                                                      "broker has lost etcd)"),
                            true);
}

AdminCommands::~AdminCommands() = default;

std::string AdminCommands::name() const {
  const State& s = *state_;
  if (s.cluster_status->parsed()) return "cluster status";
  for (CLI::App* c : s.all())
    if (c->parsed()) return c->get_name();
  return "";
}

std::optional<Result<int>> AdminCommands::run(std::ostream& out, std::ostream& err) {
  State& s = *state_;
  CLI::App* cmd = nullptr;
  for (CLI::App* c : s.all())
    if (c->parsed()) cmd = c;
  if (cmd == nullptr) return std::nullopt;
  const std::string name = this->name();
  auto made = HttpClient::create(s.http, s.user, s.password, s.tls);
  if (!made) return made.error();
  HttpClient& client = *made;
  // nlohmann::json throws on an answer of an unexpected shape: caught at
  // the end, its boundary, and returned as an Error.
  try {
    if (cmd == s.ping || cmd == s.check) return health(client, cmd == s.check, out, err);
    const std::string vq = "/" + http::percent_encode(s.vhost) + "/" + http::percent_encode(queue_name(s.queue));
    std::string method = "GET", target, body;
    if (cmd == s.overview) target = "/api/overview";
    else if (cmd == s.queues) target = "/api/queues/" + http::percent_encode(s.vhost);
    else if (cmd == s.topics) target = "/api/topics";
    else if (cmd == s.connections) target = "/api/connections";
    else if (cmd == s.subscriptions) target = "/api/subscriptions";
    else if (cmd == s.users) target = "/api/users";
    else if (cmd == s.vhosts) target = "/api/vhosts";
    else if (cmd == s.permissions) target = "/api/permissions";
    else if (cmd == s.cluster_status) target = "/api/cluster";
    else if (cmd == s.purge) method = "DELETE", target = "/api/queues" + vq + "/contents";
    else if (cmd == s.move) {
      method = "POST";
      target = "/api/queues" + vq + "/move";
      Json j{{"to", queue_name(s.to)}};
      if (s.count > 0) j["count"] = s.count;
      body = j.dump();
    } else if (cmd == s.close) method = "DELETE", target = "/api/connections/" + http::percent_encode(s.id);
    else if (cmd == s.create) method = "PUT", target = "/api/queues" + vq;
    else if (cmd == s.remove) method = "DELETE", target = "/api/queues" + vq;
    else if (cmd == s.browse) {
      target = "/api/queues" + vq + "/messages";
      if (s.count > 0) target += "?count=" + std::to_string(s.count);
    }
    auto asked = client.request(method, target, body);
    if (!asked) return asked.error();
    const HttpClient::Response& r = *asked;
    if (r.status >= 300) {
      Json e = Json::parse(r.body, nullptr, false);
      std::string reason = !e.is_discarded() && e.is_object() && e.contains("reason") ? text_of(e["reason"]) : r.body;
      err << "ferry " << name << ": " << reason << " (HTTP " << r.status << ")\n";
      return 1;
    }
    Json j = r.body.empty() ? Json() : Json::parse(r.body, nullptr, false);
    // ferry cluster status: exit 1 when the broker asked has lost etcd
    // (its view may be stale), as `ferry check` does when not ready.
    const bool cluster_lost = cmd == s.cluster_status && j.is_object() && j.value("enabled", false) &&
                              j.value("coordination", "") != "ok" && j.value("coordination", "") != "renewing";
    if (s.json) {
      out << (j.is_null() ? Json::object() : j).dump(2) << "\n";
      return cluster_lost ? 1 : 0;
    }
    const std::string q = queue_name(s.queue);
    if (cmd == s.overview) {
      out << "node " << text_of(j["node"]) << ", version " << text_of(j["version"]) << ", uptime "
          << j["uptime_ms"].get<std::int64_t>() / 1000 << " s, " << text_of(j["shards"]) << " shard(s)\n"
          << "connections " << text_of(j["connections"]) << ", consumers " << text_of(j["consumers"])
          << ", queues " << text_of(j["queues"]) << ", topics " << text_of(j["topics"]) << "\n"
          << "messages ready " << text_of(j["messages"]["ready"]) << ", unacked "
          << text_of(j["messages"]["unacked"]) << "\n"
          << "rates/s publish " << text_of(j["rates"]["publish"]) << ", deliver " << text_of(j["rates"]["deliver"])
          << ", ack " << text_of(j["rates"]["ack"]) << "\n";
    } else if (cmd == s.queues) {
      print_table(out, j, {{"vhost", "vhost"}, {"name", "name"}, {"ready", "ready"}, {"unacked", "unacked"},
                           {"consumers", "consumers"}, {"enqueued", "enqueued"}, {"dequeued", "dequeued"},
                           {"in/s", "rates/in"}, {"out/s", "rates/out"}});
    } else if (cmd == s.topics) {
      print_table(out, j, {{"vhost", "vhost"}, {"name", "name"}, {"subscribers", "subscribers"},
                           {"durable", "durable_subscriptions"}, {"published", "published"}, {"in/s", "rates/in"}});
    } else if (cmd == s.connections) {
      print_table(out, j, {{"id", "id"}, {"client", "client_address"}, {"user", "user"}, {"vhost", "vhost"},
                           {"protocol", "protocol"}, {"transport", "transport"}, {"subs", "subscriptions"},
                           {"unacked", "unacked"}, {"in/s", "rates/in"}, {"out/s", "rates/out"}});
    } else if (cmd == s.subscriptions) {
      // backlog: what waits for a durable subscription whose client is
      // away (connection "-"); "-" for attached ones, which get it now.
      print_table(out, j, {{"connection", "connection"}, {"id", "id"}, {"destination", "destination"},
                           {"ack", "ack"}, {"prefetch", "prefetch"}, {"unacked", "unacked"},
                           {"backlog", "ready"}, {"durable", "durable"}, {"name", "name"}});
    } else if (cmd == s.users) {
      for (Json& u : j) {  // tags as "a,b"
        std::string tags;
        for (const Json& t : u["tags"]) tags += (tags.empty() ? "" : ",") + text_of(t);
        u["tags"] = tags;
      }
      print_table(out, j, {{"name", "name"}, {"tags", "tags"}});
    } else if (cmd == s.vhosts) {
      print_table(out, j, {{"name", "name"}});
    } else if (cmd == s.permissions) {
      print_table(out, j, {{"user", "user"}, {"vhost", "vhost"}, {"configure", "configure"}, {"write", "write"},
                           {"read", "read"}});
    } else if (cmd == s.cluster_status) {
      if (!j.value("enabled", false)) {
        out << "not a cluster: " << text_of(j["node"]) << " runs alone (no cluster-etcd)\n";
        return 0;
      }
      out << "cluster " << text_of(j["cluster"]) << ": " << j["members"].size() << " member(s), controller "
          << text_of(j["controller"]);
      if (!j["controller"].is_null()) out << " (epoch " << text_of(j["controller_epoch"]) << ")";
      out << "\nthis node: " << text_of(j["node"]) << ", coordination " << text_of(j["coordination"]);
      if (!j["last_error"].is_null()) out << " (" << text_of(j["last_error"]) << ")";
      out << "\n";
      for (Json& m : j["members"]) m["controller"] = m.value("controller", false) ? "*" : "";
      print_table(out, j["members"], {{"node", "node"}, {"controller", "controller"}, {"stomp", "stomp"},
                                      {"http", "http"}, {"cluster", "cluster"}, {"version", "version"}});
      if (j.contains("logs") && !j["logs"].empty()) {
        // The replicated logs as this broker sees them; lag: its log end
        // minus its high watermark (on a leader, what the in-sync set has
        // not all got yet).
        out << "\n";
        for (Json& l : j["logs"]) {
          std::string isr;
          for (const Json& n : l["isr"]) isr += (isr.empty() ? "" : ",") + text_of(n);
          l["isr"] = isr;
        }
        print_table(out, j["logs"], {{"log", "log"}, {"leader", "leader"}, {"epoch", "leader_epoch"},
                                     {"isr", "isr"}, {"role", "role"}, {"end", "log_end"},
                                     {"hw", "high_watermark"}, {"lag", "lag"}});
      }
      return cluster_lost ? 1 : 0;
    } else if (cmd == s.purge) {
      out << "purged " << text_of(j["purged"]) << " messages from /queue/" << q << "\n";
    } else if (cmd == s.move) {
      out << "moved " << text_of(j["moved"]) << " messages from /queue/" << q << " to /queue/"
          << queue_name(s.to) << "\n";
    } else if (cmd == s.close) {
      out << "connection " << s.id << " closed\n";
    } else if (cmd == s.create) {
      out << (r.status == 201 ? "created" : "already exists:") << " /queue/" << q << "\n";
    } else if (cmd == s.remove) {
      out << "deleted /queue/" << q << "\n";
    } else if (cmd == s.browse) {
      for (const Json& m : j) {
        out << "message-id:" << text_of(m["message_id"]) << "  size:" << text_of(m["size"])
            << "  redelivered:" << text_of(m["redelivered"]) << "\n";
        if (m["body_encoding"] == "utf8") out << text_of(m["body"]) << "\n\n";
        else out << "(binary, base64) " << text_of(m["body"]) << "\n\n";
      }
    }
    return 0;
  } catch (const Json::exception& e) {
    return failure("unexpected answer from the management API", e.what());
  }
}

}  // namespace ferry::app
