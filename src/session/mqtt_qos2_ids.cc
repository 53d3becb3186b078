#include "session/mqtt_qos2_ids.h"

#include <fmt/format.h>

#include <limits>

#include "common/clock.h"

namespace ferry::session {

namespace {

constexpr std::uint32_t kNeverExpires = 0xFFFFFFFFu;

// Record: expiry_s (4 bytes), expires (wall ms, 8 bytes; 0: the session
// was connected, its expiry counts from the next start), then the received
// and the released ids, each a 2-byte count and 2-byte ids. Big-endian.
bool get_ids(std::string_view in, std::size_t& at, MqttQos2Ids::Ids& ids) {
  std::uint64_t n = 0;
  if (!get_be(in, at, 2, n)) return false;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t id = 0;
    if (!get_be(in, at, 2, id) || id == 0) return false;
    ids.insert(static_cast<std::uint16_t>(id));
  }
  return true;
}

std::int64_t mono_expiry(std::uint32_t expiry_s, std::int64_t now_ms) {
  return expiry_s == kNeverExpires ? std::numeric_limits<std::int64_t>::max() : now_ms + std::int64_t{expiry_s} * 1000;
}

}  // namespace

MqttQos2Ids::MqttQos2Ids(std::string dir) : file_(std::move(dir), "mqtt-qos2", "FERRY-MQTT-QOS2 1\n") {}

std::string MqttQos2Ids::encode(const Flows& flows, std::uint32_t expiry_s, std::int64_t expires_wall_ms) {
  std::string out;
  put_be(out, expiry_s, 4);
  put_be(out, static_cast<std::uint64_t>(expires_wall_ms), 8);
  for (const Ids* ids : {&flows.received, &flows.released}) {
    put_be(out, ids->size(), 2);
    for (std::uint16_t id : *ids) put_be(out, id, 2);
  }
  return out;
}

Result<std::string> MqttQos2Ids::load() {
  auto records = file_.load();
  if (!records) return failure(records.error().text());
  const std::int64_t now = mono_ms();
  const std::int64_t wall = wall_ms();
  std::size_t kept = 0;
  std::lock_guard lock(mutex_);
  for (auto& [key, value] : *records) {
    std::size_t at = 0;
    std::uint64_t expiry_s = 0, expires_wall = 0;
    Entry e;
    if (!get_be(value, at, 4, expiry_s) || !get_be(value, at, 8, expires_wall) ||
        !get_ids(value, at, e.flows.received) || !get_ids(value, at, e.flows.released) || at != value.size())
      return failure(fmt::format("{}: a record cannot be read", file_.path()));
    on_disk_.insert(key);
    if (expires_wall == 0) {
      // Connected when the broker stopped: the connection ended then.
      e.expires_ms = mono_expiry(static_cast<std::uint32_t>(expiry_s), now);
    } else {
      const auto left = static_cast<std::int64_t>(expires_wall) - wall;
      e.expires_ms = expiry_s == kNeverExpires ? std::numeric_limits<std::int64_t>::max() : now + left;
    }
    parked_[key] = std::move(e);
    ++kept;
  }
  if (file_.path().empty()) return std::string("MQTT QoS 2 flows are not kept (no data directory)");
  return fmt::format("{} MQTT sessions with open QoS 2 flows from {}", kept, file_.path());
}

void MqttQos2Ids::save(const std::string& key, const Flows& flows, std::uint32_t expiry_s,
                       MqttStateFile::Written written) {
  {
    std::lock_guard lock(mutex_);
    if (flows.empty()) {
      if (on_disk_.erase(key) == 0) {
        if (written) written(Status{});
        return;
      }
    } else {
      on_disk_.insert(key);
    }
  }
  if (flows.empty()) file_.erase(key, std::move(written));
  else file_.put(key, encode(flows, expiry_s, 0), std::move(written));
}

void MqttQos2Ids::park(const std::string& key, Flows flows, std::uint32_t expiry_s) {
  const std::int64_t now = mono_ms();
  const std::int64_t expires = mono_expiry(expiry_s, now);
  std::string record;
  {
    std::lock_guard lock(mutex_);
    if (flows.empty()) {
      parked_.erase(key);
      if (on_disk_.erase(key) == 0) return;
    } else {
      on_disk_.insert(key);
      const std::int64_t wall_expires = expiry_s == kNeverExpires ? std::numeric_limits<std::int64_t>::max()
                                                                  : wall_ms() + std::int64_t{expiry_s} * 1000;
      record = encode(flows, expiry_s, wall_expires);
      parked_[key] = Entry{std::move(flows), expires};
    }
  }
  if (record.empty()) file_.erase(key);
  else file_.put(key, std::move(record));
}

MqttQos2Ids::Flows MqttQos2Ids::take(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = parked_.find(key);
  if (it == parked_.end()) return {};
  Flows flows = std::move(it->second.flows);
  parked_.erase(it);
  return flows;
}

void MqttQos2Ids::forget(const std::string& key) {
  {
    std::lock_guard lock(mutex_);
    parked_.erase(key);
    if (on_disk_.erase(key) == 0) return;
  }
  file_.erase(key);
}

void MqttQos2Ids::tick(ShardId shard, std::int64_t now_ms) {
  if (shard.value != 0) return;
  std::vector<std::string> gone;
  {
    std::lock_guard lock(mutex_);
    for (auto it = parked_.begin(); it != parked_.end();) {
      if (it->second.expires_ms <= now_ms) {
        if (on_disk_.erase(it->first) != 0) gone.push_back(it->first);
        it = parked_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& key : gone) file_.erase(key);
}

}  // namespace ferry::session
