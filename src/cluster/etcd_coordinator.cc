#include "cluster/etcd_coordinator.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <charconv>
#include <chrono>

namespace ferry::cluster {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Json = nlohmann::json;

std::string base64_encode(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(const std::string& text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3 + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes: take them off.
  std::size_t size = static_cast<std::size_t>(n);
  if (!text.empty() && text.back() == '=') --size;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --size;
  out.resize(size);
  return out;
}

namespace {

// The gateway writes int64 as a string ("12"), omits zero values, and takes
// either form.
std::int64_t number_of(const Json& j, const char* field) {
  if (!j.is_object() || !j.contains(field)) return 0;
  const Json& v = j[field];
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc() && p == s.data() + s.size()) return n;
  }
  return 0;
}

std::string bytes_of(const Json& j, const char* field) {
  if (!j.is_object() || !j.contains(field) || !j[field].is_string()) return "";
  return base64_decode(j[field].get<std::string>()).value_or("");
}

Result<Json> parse(const std::string& text, const char* what) {
  // A streaming call (keep-alive) answers one JSON object per line.
  const std::string first = text.substr(0, text.find('\n'));
  Json j = Json::parse(first, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return failure(std::string("etcd: unreadable answer to ") + what, first.substr(0, 200));
  if (j.contains("error")) {
    const Json& e = j["error"];
    std::string message = e.is_object() ? e.value("message", e.dump()) : e.dump();
    return failure(std::string("etcd refused ") + what, message);
  }
  return j;
}

}  // namespace

Status check_etcd_endpoint(const std::string& endpoint) {
  std::string a = endpoint;
  if (a.starts_with("https://")) return failure("https:// etcd endpoints are not supported yet (use http://)");
  if (a.starts_with("http://")) a = a.substr(7);
  if (!a.empty() && a.back() == '/') a.pop_back();
  const auto colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == a.size() || a.find('/') != std::string::npos)
    return failure("expected http://HOST:PORT, got '" + endpoint + "'");
  std::uint16_t port = 0;
  const std::string p = a.substr(colon + 1);
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  if (ec != std::errc() || end != p.data() + p.size() || port == 0)
    return failure("expected http://HOST:PORT, got '" + endpoint + "'");
  return {};
}

Result<std::unique_ptr<EtcdCoordinator>> EtcdCoordinator::create(const std::vector<std::string>& endpoints,
                                                                 int timeout_ms) {
  std::unique_ptr<EtcdCoordinator> c(new EtcdCoordinator());
  c->timeout_ms_ = timeout_ms;
  for (const std::string& e : endpoints) {
    if (Status ok = check_etcd_endpoint(e); !ok) return ok.error();
    std::string a = e.starts_with("http://") ? e.substr(7) : e;
    if (a.back() == '/') a.pop_back();
    const auto colon = a.rfind(':');
    std::string host = a.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    c->endpoints_.push_back({host, a.substr(colon + 1)});
  }
  if (c->endpoints_.empty()) return failure("no etcd endpoint");
  return c;
}

Result<std::string> EtcdCoordinator::call(const std::string& path, const std::string& body) {
  std::string last;
  for (std::size_t tried = 0; tried < endpoints_.size(); ++tried) {
    const Endpoint& e = endpoints_[current_];
    // Beast's synchronous calls throw system_error: caught here, their
    // boundary.
    try {
      asio::io_context io;
      asio::ip::tcp::resolver resolver(io);
      beast::tcp_stream stream(io);
      stream.expires_after(std::chrono::milliseconds(timeout_ms_));
      stream.connect(resolver.resolve(e.host, e.port));
      bhttp::request<bhttp::string_body> req(bhttp::verb::post, path, 11);
      req.set(bhttp::field::host, e.host + ":" + e.port);
      req.set(bhttp::field::content_type, "application/json");
      req.keep_alive(false);
      req.body() = body;
      req.prepare_payload();
      bhttp::write(stream, req);
      beast::flat_buffer buffer;
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(64u << 20);
      bhttp::read(stream, buffer, parser);
      beast::error_code ec;
      stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
      const unsigned status = parser.get().result_int();
      if (status == 200) return std::move(parser.get().body());
      last = e.host + ":" + e.port + " answered HTTP " + std::to_string(status) + " " +
             parser.get().body().substr(0, 200);
      // 4xx: the request itself was refused (a lease not found...): the
      // same at every member.
      if (status < 500) return failure("etcd refused " + path, last);
    } catch (const boost::system::system_error& x) {
      last = e.host + ":" + e.port + ": " + x.code().message();
    }
    current_ = (current_ + 1) % endpoints_.size();
  }
  return failure("etcd unreachable", last);
}

Result<Coordinator::Lease> EtcdCoordinator::grant_lease(std::int64_t ttl_s) {
  auto answer = call("/v3/lease/grant", Json{{"TTL", std::to_string(ttl_s)}, {"ID", "0"}}.dump());
  if (!answer) return answer.error();
  auto j = parse(*answer, "lease grant");
  if (!j) return j.error();
  Lease l{LeaseId(number_of(*j, "ID")), number_of(*j, "TTL")};
  if (l.id.value == 0) return failure("etcd: lease grant without an ID", answer->substr(0, 200));
  return l;
}

Result<std::int64_t> EtcdCoordinator::keep_alive(LeaseId lease) {
  auto answer = call("/v3/lease/keepalive", Json{{"ID", std::to_string(lease.value)}}.dump());
  if (!answer) return answer.error();
  auto j = parse(*answer, "lease keep-alive");
  if (!j) return j.error();
  // {"result": {"ID": ..., "TTL": ...}}; no TTL (0) when the lease is gone.
  const Json& r = j->contains("result") ? (*j)["result"] : *j;
  return number_of(r, "TTL");
}

Status EtcdCoordinator::revoke_lease(LeaseId lease) {
  auto answer = call("/v3/lease/revoke", Json{{"ID", std::to_string(lease.value)}}.dump());
  if (!answer) return answer.error();
  auto j = parse(*answer, "lease revoke");
  if (!j) return j.error();
  return {};
}

Result<RangeResult> EtcdCoordinator::range(const std::string& prefix) {
  auto answer = call("/v3/kv/range",
                     Json{{"key", base64_encode(prefix.empty() ? std::string(1, '\0') : prefix)},
                          {"range_end", base64_encode(prefix_end(prefix))}}
                         .dump());
  if (!answer) return answer.error();
  auto j = parse(*answer, "range");
  if (!j) return j.error();
  RangeResult r;
  r.revision = Revision(number_of((*j).value("header", Json::object()), "revision"));
  if (j->contains("kvs")) {
    for (const Json& kv : (*j)["kvs"]) {
      KeyValue v;
      v.key = bytes_of(kv, "key");
      v.value = bytes_of(kv, "value");
      v.create_revision = Revision(number_of(kv, "create_revision"));
      v.mod_revision = Revision(number_of(kv, "mod_revision"));
      v.version = number_of(kv, "version");
      v.lease = LeaseId(number_of(kv, "lease"));
      r.kvs.push_back(std::move(v));
    }
  }
  return r;
}

Result<TxnResult> EtcdCoordinator::txn(const Txn& t) {
  Json compare = Json::array(), success = Json::array();
  for (const Txn::Compare& c : t.compares)
    compare.push_back({{"key", base64_encode(c.key)},
                       {"target", "MOD"},
                       {"result", "EQUAL"},
                       {"mod_revision", std::to_string(c.mod_revision.value)}});
  for (const std::string& k : t.deletes) success.push_back({{"request_delete_range", {{"key", base64_encode(k)}}}});
  for (const Txn::Put& p : t.puts) {
    Json put{{"key", base64_encode(p.key)}, {"value", base64_encode(p.value)}};
    if (p.lease.value != 0) put["lease"] = std::to_string(p.lease.value);
    success.push_back({{"request_put", put}});
  }
  auto answer = call("/v3/kv/txn", Json{{"compare", compare}, {"success", success}}.dump());
  if (!answer) return answer.error();
  auto j = parse(*answer, "txn");
  if (!j) return j.error();
  TxnResult r;
  r.succeeded = j->value("succeeded", false);
  r.revision = Revision(number_of(j->value("header", Json::object()), "revision"));
  return r;
}

}  // namespace ferry::cluster
