#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/strong_id.h"

// The client-ids connected now, per vhost: ActiveMQ's rule (and JMS's) that
// one client-id is in use by one connection at a time, so that a durable
// subscription named by client-id + name has one consumer and a second
// connection with the same client-id is refused (InvalidClientIDException
// there; an ERROR at CONNECT here). docs/security.md, "Durable subscriptions".
//
// Shared by every shard. One small lock, taken only at CONNECT and at a
// connection's end (never on the message path), held for a hash lookup; a
// leaf lock: nothing else is taken while it is held.
namespace ferry::broker {

class ClientIds {
 public:
  struct Holder {
    ShardId shard;
    ConnectionId connection;
    std::string user;  // who logged in on it
    std::string peer;  // its client's address, for the refusal text
  };

  // Claims `client_id` in `vhost` for `holder`: nullopt if claimed (or
  // already held by that same connection), else the connection holding it.
  std::optional<Holder> claim(const std::string& vhost, const std::string& client_id, Holder holder);
  // Releases it if `shard`/`connection` holds it (a connection releases only
  // its own claim).
  void release(const std::string& vhost, const std::string& client_id, ShardId shard, ConnectionId connection);
  std::size_t size() const;

 private:
  static std::string key_of(const std::string& vhost, const std::string& client_id) {
    return vhost + '\n' + client_id;
  }
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Holder> held_;  // GUARDED_BY(mutex_)
};

}  // namespace ferry::broker
