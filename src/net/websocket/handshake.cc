#include "net/websocket/handshake.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include <fmt/format.h>

namespace ferry::net::websocket {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::string_view kStompProtocols[] = {"v12.stomp", "v11.stomp", "v10.stomp"};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Comma-separated tokens of a header value, trimmed.
std::vector<std::string_view> tokens(std::string_view v) {
  std::vector<std::string_view> out;
  while (!v.empty()) {
    auto comma = v.find(',');
    auto t = trim(v.substr(0, comma));
    if (!t.empty()) out.push_back(t);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return out;
}

bool has_token(std::string_view value, std::string_view token) {
  for (auto t : tokens(value))
    if (lower(t) == token) return true;
  return false;
}

const char* status_text(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    default: return "Error";
  }
}

}  // namespace

std::string accept_key(std::string_view key) {
  std::string text(key);
  text.append(kGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

Handshake::Handshake(std::string path, std::vector<std::string> protocols)
    : path_(std::move(path)), protocols_(std::move(protocols)) {
  stomp_ = protocols_.empty();
  if (stomp_) protocols_.assign(std::begin(kStompProtocols), std::end(kStompProtocols));
}

void Handshake::add_endpoint(std::string path, std::vector<std::string> protocols) {
  more_.push_back(Endpoint{std::move(path), std::move(protocols)});
}

Handshake::Result Handshake::feed(std::string_view data) {
  Result r;
  if (status_ != Status::kNeedMore) {
    r.status = status_;
    return r;
  }
  // Look for the blank line ending the request; it may straddle feeds.
  const std::size_t before = request_.size();
  const std::size_t room = kMaxRequestBytes - before;
  request_.append(data.substr(0, std::min(room, data.size())));
  const std::size_t search_from = before >= 3 ? before - 3 : 0;
  auto end = request_.find("\r\n\r\n", search_from);
  if (end == std::string::npos) {
    r.consumed = request_.size() - before;
    // A request line ends in CRLF: a STOMP client on this port ("CONNECT\n")
    // is told at once, not after connect-timeout.
    auto eol = request_.find('\n');
    if (eol != std::string::npos && (eol == 0 || request_[eol - 1] != '\r' ||
                                     (request_.compare(0, 4, "GET ") != 0 && request_.find(" HTTP/") > eol))) {
      r.status = reject(400, "not an HTTP request (a WebSocket listener expects an HTTP upgrade)");
      return r;
    }
    if (request_.size() >= kMaxRequestBytes) {
      r.status = reject(431, "handshake request larger than 8 KiB");
      return r;
    }
    return r;
  }
  request_.resize(end + 4);
  r.consumed = request_.size() - before;
  r.status = parse();
  return r;
}

Handshake::Status Handshake::reject(int status, std::string_view reason, std::string_view extra_headers) {
  reason_ = std::string(reason);
  std::string body = fmt::format("{}\n", reason);
  response_ = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{}",
      status, status_text(status), body.size(), extra_headers, body);
  status_ = Status::kRejected;
  return status_;
}

Handshake::Status Handshake::parse() {
  std::string_view req(request_);
  // RFC 9112 2.2, 5.1, 5.2: lines end in CRLF; no control character but HTAB
  // in a line (a NUL could cut a header value short in one reader and not
  // in another: request smuggling); obsolete line folding is refused.
  for (std::size_t i = 0; i < req.size(); ++i) {
    const auto c = static_cast<unsigned char>(req[i]);
    if (c == '\r' && i + 1 < req.size() && req[i + 1] == '\n') {
      ++i;
      continue;
    }
    if ((c < 0x20 && c != '\t') || c == 0x7F)
      return reject(400, c == 0 ? "NUL byte in the handshake request" : "control character in the handshake request");
  }
  auto line_end = req.find("\r\n");
  std::string_view request_line = req.substr(0, line_end);
  // METHOD SP TARGET SP HTTP/1.1
  auto sp1 = request_line.find(' ');
  auto sp2 = request_line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return reject(400, "malformed request line");
  std::string_view method = request_line.substr(0, sp1);
  std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = request_line.substr(sp2 + 1);
  if (version != "HTTP/1.1") return reject(400, "HTTP/1.1 required for a WebSocket handshake");
  if (method != "GET") return reject(405, "a WebSocket handshake is a GET request", "Allow: GET\r\n");
  std::string_view path = target.substr(0, target.find('?'));
  const std::vector<std::string>* served_protocols = &protocols_;
  endpoint_ = 0;
  if (path != path_) {
    for (std::size_t i = 0; i < more_.size() && endpoint_ == 0; ++i) {
      if (path != more_[i].path) continue;
      endpoint_ = i + 1;
      served_protocols = &more_[i].protocols;
    }
    if (endpoint_ == 0) return reject(404, fmt::format("no WebSocket endpoint at {} (ws-path is {})", path, path_));
  }

  std::string upgrade, connection, key, ws_version, protocols, host;
  bool have_protocols = false;
  std::size_t pos = line_end + 2;
  while (pos < req.size()) {
    auto eol = req.find("\r\n", pos);
    std::string_view line = req.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') return reject(400, "obsolete line folding in a header");
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return reject(400, "malformed header line");
    // No whitespace between the name and the colon (RFC 9112 5.1).
    if (line.substr(0, colon).find_first_of(" \t") != std::string_view::npos)
      return reject(400, "malformed header line");
    std::string name = lower(line.substr(0, colon));
    std::string_view value = trim(line.substr(colon + 1));
    auto add = [&](std::string& field) {
      if (!field.empty()) field += ", ";
      field.append(value);
    };
    if (name == "upgrade") add(upgrade);
    else if (name == "connection") add(connection);
    else if (name == "sec-websocket-key") key = std::string(value);
    else if (name == "sec-websocket-version") ws_version = std::string(value);
    else if (name == "sec-websocket-protocol") {
      add(protocols);
      have_protocols = true;
    } else if (name == "host") host = std::string(value);
  }
  if (host.empty()) return reject(400, "missing Host header");
  if (!has_token(upgrade, "websocket")) return reject(400, "not a WebSocket upgrade (Upgrade: websocket missing)");
  if (!has_token(connection, "upgrade")) return reject(400, "not a WebSocket upgrade (Connection: Upgrade missing)");
  if (ws_version != "13")
    return reject(426, "unsupported Sec-WebSocket-Version (13 required)", "Sec-WebSocket-Version: 13\r\n");
  // The key is 16 random bytes in base64: 24 characters ending in "==".
  if (key.size() != 24 || key.substr(22) != "==") return reject(400, "invalid Sec-WebSocket-Key");

  protocol_.clear();
  if (have_protocols) {
    auto offered = tokens(protocols);
    for (const auto& p : *served_protocols) {
      if (std::find(offered.begin(), offered.end(), p) != offered.end()) {
        protocol_ = p;
        break;
      }
    }
    if (protocol_.empty() && !offered.empty()) {
      std::string served;
      for (const auto& p : *served_protocols) served += (served.empty() ? "" : ", ") + p;
      return reject(400, fmt::format("no supported subprotocol offered ({})", served));
    }
  }
  response_ = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  response_ += "Sec-WebSocket-Accept: " + accept_key(key) + "\r\n";
  if (!protocol_.empty()) response_ += "Sec-WebSocket-Protocol: " + protocol_ + "\r\n";
  response_ += "\r\n";
  status_ = Status::kDone;
  return status_;
}

}  // namespace ferry::net::websocket
