#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_set>

#include "common/strong_id.h"

namespace ferry::session {

// The packet ids of inbound QoS 2 PUBLISHes a persistent session had
// PUBREC'd and not yet seen PUBREL for when its connection ended
// (docs/mqtt.md, "Persistent sessions"): the next connection of the client
// id takes them back, so that the client's resent PUBLISH (DUP) is answered
// with PUBREC and not published a second time (spec 4.3.3, 4.4). And the
// outbound ones the client had PUBREC'd and not yet PUBCOMP'd: the next
// connection sends PUBREL for them again, not the PUBLISH (spec 4.4). Kept for
// the session's expiry; a clean start drops them. In memory only: a
// restart forgets them. Any shard (a mutex; touched once per connection
// end and CONNECT, never per message).
class MqttQos2Ids {
 public:
  using Ids = std::unordered_set<std::uint16_t>;
  struct Flows {
    Ids received;  // inbound: PUBREC sent, PUBREL not come
    Ids released;  // outbound: PUBREL sent, PUBCOMP not come
    bool empty() const { return received.empty() && released.empty(); }
  };

  // Keeps the open flows of client `key` (MqttWills::key_of) until
  // `expires_ms` (mono_ms; INT64_MAX: for good).
  void park(const std::string& key, Flows flows, std::int64_t expires_ms);
  // A new connection of `key` came: what was parked (empty if nothing).
  Flows take(const std::string& key);
  // Every tick on shard 0: forgets what belongs to expired sessions.
  void tick(ShardId shard, std::int64_t now_ms);

 private:
  struct Entry {
    Flows flows;
    std::int64_t expires_ms = 0;
  };
  std::mutex mutex_;
  std::map<std::string, Entry> parked_;  // GUARDED_BY(mutex_)
};

}  // namespace ferry::session
