#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"

namespace ferry::session {

// The records' big-endian integers (`bytes` of them), for MqttStateFile's
// users: appended to `out`, or read at `at` (false: too short).
inline void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}
inline bool get_be(std::string_view in, std::size_t& at, int bytes, std::uint64_t& v) {
  if (in.size() - at < static_cast<std::size_t>(bytes)) return false;
  v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[at++]);
  return true;
}

// A small table of MQTT session state that must outlive the broker
// (docs/mqtt.md, "Across a broker restart"): key -> bytes, kept in one file
// of the data directory and replaced whole (store::replace_file, fsynced)
// by a writer thread of its own, so that a session never waits for the disk
// on its shard. A change's `written` callback runs on that thread once the
// file holding it is durable; changes that come while a write is under way
// go together into the next one. Used for the QoS 2 packet ids of
// persistent sessions (MqttQos2Ids, "mqtt-qos2") and for will messages
// (MqttWills, "mqtt-wills").
//
// File: the magic line, then per record a 4-byte big-endian key length,
// the key, a 4-byte big-endian value length, the value.
//
// Bounded by its users: one record per persistent session or will.
class MqttStateFile {
 public:
  using Written = std::function<void(const Status&)>;
  // `dir` empty: nothing persists (callbacks run at once).
  MqttStateFile(std::string dir, std::string name, std::string magic);
  // Writes what is pending, then stops the writer.
  ~MqttStateFile();
  MqttStateFile(const MqttStateFile&) = delete;
  MqttStateFile& operator=(const MqttStateFile&) = delete;

  // Start-up, before any change: the records of the file (none if it is
  // not there).
  Result<std::map<std::string, std::string>> load();
  // Sets (or, `erase`, removes) a record. `written` may be empty.
  void put(const std::string& key, std::string value, Written written = {});
  void erase(const std::string& key, Written written = {});

  const std::string& path() const { return path_; }

 private:
  void changed(Written written);
  void run();

  const std::string dir_, path_, magic_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, std::string> records_;  // GUARDED_BY(mutex_)
  std::vector<Written> waiting_;                // GUARDED_BY(mutex_)
  bool dirty_ = false;                          // GUARDED_BY(mutex_)
  bool stop_ = false;                           // GUARDED_BY(mutex_)
  std::thread writer_;  // last: started once the rest is in place
};

}  // namespace ferry::session
