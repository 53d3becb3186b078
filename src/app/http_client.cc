#include "app/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <stdexcept>

#include "http/base64.h"

namespace ferry::app {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

HttpClient::HttpClient(std::string address, std::string user, std::string password, int timeout_ms)
    : timeout_ms_(timeout_ms) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size())
    throw std::runtime_error("--http must be HOST:PORT, got '" + address + "'");
  host_ = address.substr(0, colon);
  if (host_.size() >= 2 && host_.front() == '[' && host_.back() == ']') host_ = host_.substr(1, host_.size() - 2);
  port_ = address.substr(colon + 1);
  authorization_ = "Basic " + http::base64_encode(user + ":" + password);
}

HttpClient::Result HttpClient::request(const std::string& method, const std::string& target,
                                       const std::string& body) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  const std::string where = host_ + ":" + port_;
  try {
    asio::ip::tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host_, port_);
    stream.expires_after(std::chrono::milliseconds(timeout_ms_));
    stream.connect(endpoints);
    bhttp::request<bhttp::string_body> req(bhttp::string_to_verb(method), target, 11);
    req.set(bhttp::field::host, where);
    req.set(bhttp::field::user_agent, "ferry-admin");
    req.set(bhttp::field::authorization, authorization_);
    req.set(bhttp::field::accept, "application/json");
    req.keep_alive(false);
    if (!body.empty()) {
      req.set(bhttp::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    stream.expires_after(std::chrono::milliseconds(timeout_ms_));
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(256ull << 20);
    stream.expires_after(std::chrono::milliseconds(timeout_ms_));
    bhttp::read(stream, buffer, parser);
    beast::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    return Result{parser.get().result_int(), parser.get().body()};
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot reach the management API at " + where + " (http-listen): " +
                             e.code().message());
  }
}

}  // namespace ferry::app
