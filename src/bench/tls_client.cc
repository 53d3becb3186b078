#include "bench/tls_client.h"

namespace ferry::bench {

std::unique_ptr<boost::asio::ssl::context> tls_client_context() {
  auto ctx = std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_client);
  ctx->set_verify_mode(boost::asio::ssl::verify_none);
  return ctx;
}

}  // namespace ferry::bench
