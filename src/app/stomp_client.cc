#include "app/stomp_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <poll.h>


#include "stomp/encoder.h"

namespace ferry::app {

namespace asio = boost::asio;

std::optional<std::string> StompClient::Frame::get(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return std::nullopt;
}

Status StompClient::connect(const std::string& host_port, const std::string& vhost, const std::string& login,
                            const std::string& passcode) {
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos) return failure("expected HOST:PORT, got " + host_port);
  asio::ip::tcp::resolver resolver(io_);
  boost::system::error_code ec;
  auto endpoints = resolver.resolve(host_port.substr(0, colon), host_port.substr(colon + 1), ec);
  if (ec) return failure("cannot resolve " + host_port, ec.message());
  asio::connect(socket_, endpoints, ec);
  if (ec) return failure("cannot connect to " + host_port, ec.message());
  std::vector<std::pair<std::string, std::string>> connect{
      {"accept-version", "1.2"}, {"host", vhost}, {"heart-beat", "0,0"}};
  if (!login.empty()) {
    connect.emplace_back("login", login);
    connect.emplace_back("passcode", passcode);
  }
  // Only 1.2 is offered, so the answer (CONNECTED, or an ERROR refusing the
  // login) is 1.2 too: its headers are unescaped as 1.2's.
  parser_.set_version(stomp::Version::k1_2);
  if (Status sent = send_frame("CONNECT", connect); !sent) return sent;
  auto f = read_frame(std::chrono::seconds(10));
  if (!f) return f.error();
  if (!*f) return failure("no CONNECTED from " + host_port);
  if ((*f)->command != "CONNECTED") return failure("unexpected " + (*f)->command);
  return {};
}

std::string StompClient::Frame::error_text() const {
  // Ferry's ERROR body repeats the message and adds the detail.
  std::string message = get("message").value_or("ERROR");
  if (body.empty()) return message;
  std::string detail = body;
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
  if (detail.starts_with(message)) return detail;
  return message + ": " + detail;
}

Status StompClient::send_frame(const std::string& command,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               const std::string& body) {
  auto cmd = stomp::parse_command(command);
  FERRY_ASSERT(cmd.has_value());  // the commands are this program's own
  std::string out;
  stomp::Encoder::begin_frame(out, *cmd);
  for (const auto& [k, v] : headers) stomp::Encoder::add_header(out, k, v, stomp::Version::k1_2, *cmd);
  const bool has_body = *cmd == stomp::Command::kSend;
  stomp::Encoder::end_headers(out, body.size(), has_body);
  out += body;
  stomp::Encoder::end_frame(out);
  boost::system::error_code ec;
  asio::write(socket_, asio::buffer(out), ec);
  if (ec) return failure("write failed", ec.message());
  return {};
}

Result<std::optional<StompClient::Frame>> StompClient::read_frame(std::chrono::milliseconds timeout) {
  if (!stashed_.empty()) {
    Frame f = std::move(stashed_.front());
    stashed_.pop_front();
    return std::optional<Frame>(std::move(f));
  }
  return read_wire(timeout);
}

Result<std::optional<StompClient::Frame>> StompClient::read_wire(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (!buffer_.empty()) {
      stomp::Frame f;
      auto r = parser_.next(std::span<char>(buffer_.data(), buffer_.size()), f);
      if (r.status == stomp::Parser::Status::kError)
        return failure("bad frame from server", std::string(stomp::describe(r.error)));
      if (r.status == stomp::Parser::Status::kFrame) {
        Frame out;
        out.command = std::string(stomp::to_string(f.command));
        for (const auto& h : f.headers) out.headers.emplace_back(std::string(h.name), std::string(h.value));
        out.body = std::string(f.body);
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(r.consumed));
        if (out.command == "ERROR") return failure("the broker answered ERROR", out.error_text());
        return std::optional<Frame>(std::move(out));
      }
      if (r.consumed > 0) {
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(r.consumed));
        continue;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::optional<Frame>();
    pollfd p{socket_.native_handle(), POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (rc <= 0) continue;
    char chunk[65536];
    boost::system::error_code ec;
    std::size_t n = socket_.read_some(asio::buffer(chunk), ec);
    if (ec) return failure("connection closed by server");
    buffer_.insert(buffer_.end(), chunk, chunk + n);
  }
}

Status StompClient::send_with_receipt(const std::string& command,
                                      std::vector<std::pair<std::string, std::string>> headers,
                                      const std::string& body) {
  std::string id = "r-" + std::to_string(++receipt_counter_);
  headers.emplace_back("receipt", id);
  if (Status sent = send_frame(command, headers, body); !sent) return sent;
  for (;;) {
    auto f = read_wire(std::chrono::seconds(30));
    if (!f) return f.error();
    if (!*f) return failure("timed out waiting for RECEIPT " + id);
    if ((*f)->command == "RECEIPT" && (*f)->get("receipt-id") == id) return {};
    stashed_.push_back(std::move(**f));
  }
}

void StompClient::disconnect() {
  // The server may close first; nothing is lost either way.
  (void)send_with_receipt("DISCONNECT", {});
}

}  // namespace ferry::app
