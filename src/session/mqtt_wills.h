#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/destination.h"
#include "broker/message.h"
#include "common/result.h"
#include "session/mqtt_retained.h"
#include "session/mqtt_state_file.h"

namespace ferry::session {

// MQTT will messages that must not be lost (docs/mqtt.md, "Will messages"
// and "Across a broker restart"), for every vhost and shard:
//
// - waiting wills (MQTT 5 Will Delay Interval): a connection that ends
//   without DISCONNECT leaves its will here, due at the smaller of the
//   will delay and the session expiry (spec 3.1.3.2.2); a new connection
//   with the same client id takes it back (resuming the session: never
//   published) or publishes it at once (clean start: the session ended).
//   What is due is published by tick() on shard 0;
// - armed wills: the will of each live connection, kept on disk from its
//   CONNACK to its end, so that a broker that stops (SIGTERM) or dies
//   (kill -9) with the connection open publishes it when it starts again:
//   the connection was closed without DISCONNECT (spec 3.1.2.5). load()
//   makes them waiting wills, due their delay after the start.
//
// Both kinds are kept in `<data-dir>/mqtt-wills` (MqttStateFile). Called
// from any shard (a mutex; touched once per connection end and CONNECT
// with a will, never per message).
class MqttWills {
 public:
  struct Will {
    broker::Destination destination;  // the topic (permission checked when deferred)
    broker::MessageRef message;
    std::string topic;   // MQTT topic, for the retained store
    bool retain = false; // kept as the topic's retained message when published
    // The message's Expiry Interval (0: none): a will read back from the
    // file expires that long after the restart.
    std::uint32_t expiry_s = 0;
    // Read back from the file: published with a new message id.
    bool restored = false;
  };

  // `dir` empty: in memory only (no data directory).
  MqttWills(broker::Broker& broker, MqttRetained* retained, std::string dir = {});

  // The key of a client id in a vhost (as broker::ClientIds).
  static std::string key_of(const std::string& vhost, const std::string& client_id) {
    return vhost + '\n' + client_id;
  }

  // Start-up, before any session: the wills of the last run come back as
  // waiting wills. A line for the log.
  Result<std::string> load();
  // Wills are kept on disk (a data directory).
  bool persists() const { return !file_.path().empty(); }

  // The will of live connection `connection` of client `key`, published
  // `delay_s` after a restart that finds it. `written` runs on the file's
  // thread once it is on disk.
  void arm(ConnectionId connection, const std::string& key, const Will& will, std::uint32_t delay_s,
           MqttStateFile::Written written);
  // The connection ended (its will published, waiting, or discarded).
  void disarm(ConnectionId connection, const std::string& key, MqttStateFile::Written written = {});

  // Keeps `will` of client `key` (vhost and client id) until `due_ms`
  // (mono_ms), replacing one there was.
  void defer(const std::string& key, Will will, std::int64_t due_ms);
  // A new connection of `key` came: its waiting will is dropped (`publish`
  // false: the session resumes) or published now on `shard` (true: the
  // session ended; or the will is due already). Call on `shard`.
  void claimed(const std::string& key, bool publish, ShardId shard);
  // On shard 0 every tick: publishes the wills that are due.
  void tick(ShardId shard, std::int64_t now_ms);

  std::size_t size() const;

 private:
  void publish(Will w, ShardId shard);
  static std::string encode(const Will& w, std::uint32_t delay_s, std::int64_t due_wall_ms);

  broker::Broker& broker_;
  MqttRetained* retained_;
  MqttStateFile file_;
  mutable std::mutex mutex_;
  struct Entry {
    Will will;
    std::int64_t due_ms = 0;
  };
  std::map<std::string, Entry> waiting_;  // GUARDED_BY(mutex_)
};

}  // namespace ferry::session
