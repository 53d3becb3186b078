#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/result.h"
#include "common/strong_id.h"
#include "session/mqtt_state_file.h"

namespace ferry::session {

// The open QoS 2 flows of persistent sessions (docs/mqtt.md, "Persistent
// sessions" and "Across a broker restart"): the packet ids of inbound QoS 2
// PUBLISHes the session PUBREC'd and has not seen PUBREL for, so that the
// client's resent PUBLISH (DUP) is answered with PUBREC and not published a
// second time (spec 4.3.3, 4.4); and the outbound ones the client PUBREC'd
// and has not PUBCOMP'd, whose PUBREL the next connection sends again (spec
// 4.4).
//
// Two places: parked flows, those of a session whose connection ended,
// which the next connection of the client id takes back (kept for the
// session's expiry; a clean start drops them); and the file
// `<data-dir>/mqtt-qos2` (MqttStateFile), where a connected persistent
// session saves its flows as they change (a PUBREC, a PUBCOMP waits for
// the save), so that they survive a restart or `kill -9`: load() parks
// them again at start-up. Any shard (a mutex; the connections' saves are
// the file's writer's work).
class MqttQos2Ids {
 public:
  using Ids = std::unordered_set<std::uint16_t>;
  struct Flows {
    Ids received;  // inbound: PUBREC sent, PUBREL not come
    Ids released;  // outbound: PUBREL sent, PUBCOMP not come
    bool empty() const { return received.empty() && released.empty(); }
  };

  // `dir` empty: in memory only (unit tests, no data directory).
  explicit MqttQos2Ids(std::string dir = {});

  // Start-up: parks what the file holds (the flows of the sessions of the
  // last run), each for its session's expiry from now. A line for the log.
  Result<std::string> load();

  // A connected persistent session's flows of client `key`
  // (MqttWills::key_of) as they stand; `written` runs on the file's thread
  // once they are on disk (at once without a data directory).
  void save(const std::string& key, const Flows& flows, std::uint32_t expiry_s, MqttStateFile::Written written);
  // Keeps the open flows of client `key`, whose connection ended, for
  // `expiry_s` (0xFFFFFFFF: for good), in memory and on disk.
  void park(const std::string& key, Flows flows, std::uint32_t expiry_s);
  // A new connection of `key` came: what was parked (empty if nothing).
  // What is on disk stays, the new connection's now.
  Flows take(const std::string& key);
  // The session of `key` ended (clean start, or it ended with its
  // connection): nothing of it is kept.
  void forget(const std::string& key);
  // Every tick on shard 0: forgets what belongs to expired sessions.
  void tick(ShardId shard, std::int64_t now_ms);

 private:
  struct Entry {
    Flows flows;
    std::int64_t expires_ms = 0;  // mono_ms
  };
  static std::string encode(const Flows& flows, std::uint32_t expiry_s, std::int64_t expires_wall_ms);

  MqttStateFile file_;
  std::mutex mutex_;
  std::map<std::string, Entry> parked_;  // GUARDED_BY(mutex_)
  std::set<std::string> on_disk_;        // GUARDED_BY(mutex_): keys the file has a record of
};

}  // namespace ferry::session
