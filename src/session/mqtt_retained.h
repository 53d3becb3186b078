#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "broker/message.h"
#include "common/result.h"

namespace ferry::session {

// MQTT retained messages (docs/mqtt.md, "Retained messages"): the last
// message published with the retain flag to each topic of each vhost, sent
// to every new subscription whose filter matches it. Shared by the MQTT
// sessions of every shard, so a lock guards it: it is touched by retained
// PUBLISHes and by SUBSCRIBEs, never by ordinary deliveries.
//
// Persisted in `<data-dir>/mqtt-retained` (format below), replaced whole
// (store::replace_file, fsynced) by a writer thread of its own, so that a
// session never waits for the disk: a change's `written` callback runs on
// that thread once the file holding it is durable, and changes that come
// while a write is under way go together in the next one.
//
// File: "FERRY-RETAINED 1\n", then per message a 4-byte big-endian length
// and a broker message record (broker/message_codec.h) whose queue field is
// "<vhost>\n<mqtt topic>".
//
// Bounded: at most `max_messages` topics and `max_bytes` of topic and body
// bytes; a message past either is refused (set() says which).
class MqttRetained {
 public:
  struct Limits {
    std::uint32_t max_messages = 100000;
    std::uint64_t max_bytes = std::uint64_t{128} << 20;
  };
  // `dir` empty: nothing persists (written callbacks run at once).
  MqttRetained(std::string dir, Limits limits);
  // Writes what is pending, then stops the writer.
  ~MqttRetained();
  MqttRetained(const MqttRetained&) = delete;
  MqttRetained& operator=(const MqttRetained&) = delete;

  // Start-up, before any session: reads the file. Returns a line for the log.
  Result<std::string> load();

  // Retains `m` as the message of `topic` in `vhost`, replacing the one
  // there was; an empty body clears it. Fails (nothing changed) past a
  // limit. `written(status)` runs on the writer thread once the change is
  // on disk (or could not be written); not called on failure.
  Status set(const std::string& vhost, const std::string& topic, broker::MessageRef m,
             std::function<void(const Status&)> written);
  // The retained messages of `vhost` whose topics match `filter` (an MQTT
  // filter without share prefix), not expired, in topic order.
  std::vector<broker::MessageRef> matching(std::string_view vhost, std::string_view filter) const;

  std::size_t count() const;
  std::uint64_t bytes() const;

 private:
  void run();
  Status write(const std::string& data);

  const std::string dir_, path_;
  const Limits limits_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  // "<vhost>\n<topic>" -> message (a vhost name has no line end)
  std::map<std::string, broker::MessageRef, std::less<>> entries_;  // GUARDED_BY(mutex_)
  std::uint64_t bytes_ = 0;                                            // GUARDED_BY(mutex_)
  std::vector<std::function<void(const Status&)>> waiting_;            // GUARDED_BY(mutex_)
  bool dirty_ = false;                                                 // GUARDED_BY(mutex_)
  bool stop_ = false;                                                  // GUARDED_BY(mutex_)
  std::thread writer_;  // last: started once the rest is in place
};

}  // namespace ferry::session
