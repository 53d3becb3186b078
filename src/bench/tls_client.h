#pragma once

#include <boost/asio/ssl/context.hpp>

#include <memory>

namespace ferry::bench {

// The TLS context of `ferry bench --tls`: a client context that does not
// verify the server's certificate (a load generator aimed at a test broker,
// often with a self-signed certificate, not a client whose peer matters).
std::unique_ptr<boost::asio::ssl::context> tls_client_context();

}  // namespace ferry::bench
