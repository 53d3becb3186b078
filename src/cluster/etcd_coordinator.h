#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/coordinator.h"

namespace ferry::cluster {

// The Coordinator over etcd v3's JSON gateway (etcd 3.4: POST /v3/kv/range,
// /v3/kv/txn, /v3/lease/grant, /v3/lease/keepalive, /v3/lease/revoke; keys
// and values base64, 64-bit numbers as decimal strings). Plain HTTP, one
// connection per call, each within `timeout_ms`. Blocking: call it from the
// cluster thread only.
//
// Endpoints are tried in turn: a call goes to the endpoint that answered
// last; when it does not answer (or answers 5xx: an etcd member cut off
// from its quorum says so), the next one is tried, each once per call.
class EtcdCoordinator final : public Coordinator {
 public:
  // `endpoints`: http://HOST:PORT or HOST:PORT each. An Error if one is
  // malformed (https:// is not supported yet).
  static Result<std::unique_ptr<EtcdCoordinator>> create(const std::vector<std::string>& endpoints,
                                                         int timeout_ms);

  Result<Lease> grant_lease(std::int64_t ttl_s) override;
  Result<std::int64_t> keep_alive(LeaseId lease) override;
  Status revoke_lease(LeaseId lease) override;
  Result<RangeResult> range(const std::string& prefix) override;
  Result<TxnResult> txn(const Txn& t) override;

 private:
  struct Endpoint {
    std::string host;
    std::string port;
  };
  EtcdCoordinator() = default;
  // POSTs `body` to `path` and returns the JSON text of a 200 answer.
  Result<std::string> call(const std::string& path, const std::string& body);

  std::vector<Endpoint> endpoints_;
  std::size_t current_ = 0;
  int timeout_ms_ = 1000;
};

// Checks one cluster-etcd endpoint (for the configuration).
Status check_etcd_endpoint(const std::string& endpoint);

// RFC 4648 base64 (the gateway's bytes fields).
std::string base64_encode(const std::string& bytes);
// nullopt if `text` is not base64.
std::optional<std::string> base64_decode(const std::string& text);

}  // namespace ferry::cluster
