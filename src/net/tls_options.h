#pragma once

#include <string>

namespace ferry::net {

// Who must show a certificate to a TLS listener (tls-verify-client).
enum class TlsVerifyClient { kNone, kOptional, kRequired };

struct TlsOptions {
  std::string cert_file;  // PEM, the server's certificate (chain)
  std::string key_file;   // PEM, its private key
  std::string ca_file;    // PEM, CAs that sign client certificates ("" = none)
  TlsVerifyClient verify_client = TlsVerifyClient::kNone;
};

}  // namespace ferry::net
