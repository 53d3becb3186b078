#include "app/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <chrono>

#include "http/base64.h"

namespace ferry::app {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;

namespace {

// Writes `req` and reads the answer on a connected (and, over TLS,
// handshaken) stream; each step within timeout_ms.
template <typename Stream>
HttpClient::Response exchange(Stream& stream, const bhttp::request<bhttp::string_body>& req, int timeout_ms) {
  auto& tcp = beast::get_lowest_layer(stream);
  tcp.expires_after(std::chrono::milliseconds(timeout_ms));
  bhttp::write(stream, req);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(256ull << 20);
  tcp.expires_after(std::chrono::milliseconds(timeout_ms));
  bhttp::read(stream, buffer, parser);
  return HttpClient::Response{parser.get().result_int(), parser.get().body()};
}

}  // namespace

Result<HttpClient> HttpClient::create(std::string address, std::string user, std::string password,
                                      HttpClientTls tls, int timeout_ms) {
  HttpClient c;
  c.tls_ = std::move(tls);
  c.timeout_ms_ = timeout_ms;
  const std::string given = address;
  if (address.starts_with("https://")) {
    c.https_ = true;
    address = address.substr(8);
  } else if (address.starts_with("http://")) {
    address = address.substr(7);
  }
  if (!address.empty() && address.back() == '/') address.pop_back();
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size() ||
      address.find('/') != std::string::npos)
    return failure("--http must be HOST:PORT, http://HOST:PORT or https://HOST:PORT, got '" + given + "'");
  c.host_ = address.substr(0, colon);
  if (c.host_.size() >= 2 && c.host_.front() == '[' && c.host_.back() == ']')
    c.host_ = c.host_.substr(1, c.host_.size() - 2);
  c.port_ = address.substr(colon + 1);
  c.authorization_ = "Basic " + http::base64_encode(user + ":" + password);
  return c;
}

Result<HttpClient::Response> HttpClient::request(const std::string& method, const std::string& target,
                                                 const std::string& body) {
  asio::io_context io;
  const std::string where = (https_ ? "https://" : "") + host_ + ":" + port_;
  const char* option = https_ ? "https-listen" : "http-listen";
  bhttp::request<bhttp::string_body> req(bhttp::string_to_verb(method), target, 11);
  req.set(bhttp::field::host, host_ + ":" + port_);
  req.set(bhttp::field::user_agent, "ferry-admin");
  req.set(bhttp::field::authorization, authorization_);
  req.set(bhttp::field::accept, "application/json");
  req.keep_alive(false);
  if (!body.empty()) {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  // Beast's synchronous calls throw system_error: caught at the end of this
  // function, their boundary, and returned as an Error.
  try {
    asio::ip::tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host_, port_);
    if (!https_) {
      beast::tcp_stream stream(io);
      stream.expires_after(std::chrono::milliseconds(timeout_ms_));
      stream.connect(endpoints);
      Response r = exchange(stream, req, timeout_ms_);
      beast::error_code ec;
      stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
      return r;
    }
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (tls_.insecure) {
      ctx.set_verify_mode(ssl::verify_none);
    } else {
      beast::error_code ec;
      if (tls_.ca_file.empty()) ctx.set_default_verify_paths(ec);
      else ctx.load_verify_file(tls_.ca_file, ec);
      if (ec)
        return failure(tls_.ca_file.empty() ? std::string("the system trust store") : "--ca-file " + tls_.ca_file,
                       ec.message());
      ctx.set_verify_mode(ssl::verify_peer);
      ctx.set_verify_callback(ssl::host_name_verification(host_));
    }
    if (!tls_.cert_file.empty() || !tls_.key_file.empty()) {
      if (tls_.cert_file.empty() || tls_.key_file.empty())
        return failure("--cert-file and --key-file go together");
      beast::error_code ec;
      ctx.use_certificate_chain_file(tls_.cert_file, ec);
      if (ec) return failure("--cert-file " + tls_.cert_file, ec.message());
      ctx.use_private_key_file(tls_.key_file, ssl::context::pem, ec);
      // (OpenSSL also refuses a key that does not match the certificate here.)
      if (ec) return failure("--key-file " + tls_.key_file, ec.message());
    }
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    // SNI carries names only, never addresses (RFC 6066, 3).
    beast::error_code ec;
    asio::ip::make_address(host_, ec);
    if (ec) SSL_set_tlsext_host_name(stream.native_handle(), host_.c_str());
    auto& tcp = beast::get_lowest_layer(stream);
    tcp.expires_after(std::chrono::milliseconds(timeout_ms_));
    tcp.connect(endpoints);
    tcp.expires_after(std::chrono::milliseconds(timeout_ms_));
    stream.handshake(ssl::stream_base::client, ec);
    if (ec) {
      std::string reason = ec.message();
      if (ec.category() == asio::error::get_ssl_category() &&
          ERR_GET_REASON(ec.value()) == SSL_R_CERTIFICATE_VERIFY_FAILED)
        reason += " (" +
                  std::string(X509_verify_cert_error_string(SSL_get_verify_result(stream.native_handle()))) +
                  "; --ca-file names the CA that signed the broker's certificate, --insecure skips the check)";
      return failure("TLS handshake with " + where + " failed", reason);
    }
    Response r = exchange(stream, req, timeout_ms_);
    // close_notify, without waiting long for the server's.
    tcp.expires_after(std::chrono::milliseconds(1000));
    stream.shutdown(ec);
    return r;
  } catch (const boost::system::system_error& e) {
    return failure("cannot reach the management API at " + where + " (" + option + ")", e.code().message());
  }
}

}  // namespace ferry::app
