#pragma once

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>

#include "common/result.h"
#include "net/tls_options.h"

namespace ferry::net {

// One server-side SSL_CTX built from the options, shared by every TLS
// listener (STOMP+TLS, WebSocket+TLS) and every shard: OpenSSL allows
// creating SSL objects from one context on several threads. Built once at
// startup, read-only afterwards.
class TlsContext {
 public:
  // Loads certificate, key and CAs. The Error's message names the option
  // and file.
  static Result<std::unique_ptr<TlsContext>> create(const TlsOptions& options);

  boost::asio::ssl::context& context() { return context_; }

 private:
  TlsContext();
  boost::asio::ssl::context context_;
};

}  // namespace ferry::net
