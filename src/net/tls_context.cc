#include "net/tls_context.h"

#include <openssl/ssl.h>

namespace ferry::net {

namespace ssl = boost::asio::ssl;

TlsContext::TlsContext() : context_(ssl::context::tls_server) {}

Result<std::unique_ptr<TlsContext>> TlsContext::create(const TlsOptions& options) {
  if (options.cert_file.empty() || options.key_file.empty()) {
    return failure("a TLS listener needs tls-cert-file and tls-key-file");
  }
  std::unique_ptr<TlsContext> t(new TlsContext());
  ssl::context& c = t->context_;
  // TLS 1.2 and later only; no compression, no renegotiation.
  c.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression |
                ssl::context::single_dh_use);
  SSL_CTX_set_options(c.native_handle(), SSL_OP_NO_RENEGOTIATION);
  // Idle connections give OpenSSL's record buffers back (many idle clients).
  SSL_CTX_set_mode(c.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  // No TLS 1.3 session tickets. A ticket is a record the server sends right
  // after the handshake, which the client library reads in the background
  // while the application already writes its CONNECT; clients that read on
  // one thread and write on another (stomp.py) share one SSL object between
  // them, and a ticket arriving mid-write then loses the CONNECT now and then
  // (the connection hangs until connect-timeout). Like RabbitMQ's default (no
  // tickets), resumption is off: a STOMP connection is long-lived, a full
  // handshake on reconnect costs a millisecond.
  SSL_CTX_set_num_tickets(c.native_handle(), 0);
  SSL_CTX_set_session_cache_mode(c.native_handle(), SSL_SESS_CACHE_OFF);
  boost::system::error_code ec;
  c.use_certificate_chain_file(options.cert_file, ec);
  if (ec) {
    return failure("tls-cert-file " + options.cert_file + ": " + ec.message());
  }
  c.use_private_key_file(options.key_file, ssl::context::pem, ec);
  if (ec) {
    return failure("tls-key-file " + options.key_file + ": " + ec.message());
  }
  if (SSL_CTX_check_private_key(c.native_handle()) != 1) {
    return failure("tls-key-file " + options.key_file + " does not match tls-cert-file " + options.cert_file);
  }
  if (!options.ca_file.empty()) {
    c.load_verify_file(options.ca_file, ec);
    if (ec) {
      return failure("tls-ca-file " + options.ca_file + ": " + ec.message());
    }
    // The CAs' names are sent in the CertificateRequest (clients pick a
    // certificate by them).
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.ca_file.c_str()))
      SSL_CTX_set_client_CA_list(c.native_handle(), names);
  } else if (options.verify_client != TlsVerifyClient::kNone) {
    return failure("tls-verify-client " +
            std::string(options.verify_client == TlsVerifyClient::kRequired ? "required" : "optional") +
            " needs tls-ca-file (the CAs that sign client certificates)");
  }
  switch (options.verify_client) {
    case TlsVerifyClient::kNone:
      c.set_verify_mode(ssl::verify_none);
      break;
    case TlsVerifyClient::kOptional:
      c.set_verify_mode(ssl::verify_peer);
      break;
    case TlsVerifyClient::kRequired:
      c.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      break;
  }
  return {std::move(t)};
}

}  // namespace ferry::net
