#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/destination.h"
#include "broker/message.h"
#include "session/mqtt_retained.h"

namespace ferry::session {

// MQTT 5 will messages waiting out their Will Delay Interval (docs/mqtt.md,
// "Will messages"), for every vhost and shard: a connection that ends
// without DISCONNECT leaves its will here, due at the smaller of the will
// delay and the session expiry (spec 3.1.3.2.2); a new connection with the
// same client id takes it back (resuming the session: never published) or
// publishes it at once (clean start: the session ended). What is due is
// published by tick() on shard 0. In memory only: a restart forgets them.
// Called from any shard (a mutex; the table is touched once per connection
// end and CONNECT with a will, never per message).
class MqttWills {
 public:
  struct Will {
    broker::Destination destination;  // the topic (permission checked when deferred)
    broker::MessageRef message;
    std::string topic;   // MQTT topic, for the retained store
    bool retain = false; // kept as the topic's retained message when published
  };

  MqttWills(broker::Broker& broker, MqttRetained* retained) : broker_(broker), retained_(retained) {}

  // The key of a client id in a vhost (as broker::ClientIds).
  static std::string key_of(const std::string& vhost, const std::string& client_id) {
    return vhost + '\n' + client_id;
  }

  // Keeps `will` of client `key` (vhost and client id) until `due_ms`
  // (mono_ms), replacing one there was.
  void defer(const std::string& key, Will will, std::int64_t due_ms);
  // A new connection of `key` came: its waiting will is dropped (`publish`
  // false: the session resumes) or published now on `shard` (true: the
  // session ended). Call on `shard`.
  void claimed(const std::string& key, bool publish, ShardId shard);
  // On shard 0 every tick: publishes the wills that are due.
  void tick(ShardId shard, std::int64_t now_ms);

  std::size_t size() const;

 private:
  void publish(Will w, ShardId shard);

  broker::Broker& broker_;
  MqttRetained* retained_;
  mutable std::mutex mutex_;
  struct Entry {
    Will will;
    std::int64_t due_ms = 0;
  };
  std::map<std::string, Entry> waiting_;  // GUARDED_BY(mutex_)
};

}  // namespace ferry::session
