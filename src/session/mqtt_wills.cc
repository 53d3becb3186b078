#include "session/mqtt_wills.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/message_codec.h"
#include "common/clock.h"

namespace ferry::session {

namespace {

// File keys: "a\n<vhost>\n<client id>\n<connection>" for an armed will,
// "w\n<vhost>\n<client id>" for a waiting one.
std::string armed_key(ConnectionId connection, const std::string& key) {
  return "a\n" + key + '\n' + std::to_string(connection.value);
}
std::string waiting_key(const std::string& key) { return "w\n" + key; }

// Record: retain (1 byte), delay_s (4), due (wall ms, 8), expiry_s (4),
// then the vhost, the destination name, the MQTT topic and a broker
// message record, each a 4-byte length and its bytes. Big-endian.
void put_field(std::string& out, std::string_view f) {
  put_be(out, f.size(), 4);
  out += f;
}
bool get_field(std::string_view in, std::size_t& at, std::string& f) {
  std::uint64_t n = 0;
  if (!get_be(in, at, 4, n) || in.size() - at < n) return false;
  f.assign(in.substr(at, n));
  at += n;
  return true;
}

}  // namespace

MqttWills::MqttWills(broker::Broker& broker, MqttRetained* retained, std::string dir)
    : broker_(broker), retained_(retained), file_(std::move(dir), "mqtt-wills", "FERRY-MQTT-WILLS 1\n") {}

std::string MqttWills::encode(const Will& w, std::uint32_t delay_s, std::int64_t due_wall_ms) {
  std::string out;
  put_be(out, w.retain ? 1 : 0, 1);
  put_be(out, delay_s, 4);
  put_be(out, static_cast<std::uint64_t>(due_wall_ms), 8);
  put_be(out, w.expiry_s, 4);
  put_field(out, w.destination.vhost);
  put_field(out, w.destination.name);
  put_field(out, w.topic);
  put_field(out, broker::encode_message_record("", *w.message, 0, 0));
  return out;
}

Result<std::string> MqttWills::load() {
  auto records = file_.load();
  if (!records) return failure(records.error().text());
  const std::int64_t now = mono_ms();
  const std::int64_t wall = wall_ms();
  std::size_t armed = 0, waiting = 0;
  for (const auto& [file_key, value] : *records) {
    std::size_t at = 0;
    std::uint64_t retain = 0, delay_s = 0, due_wall = 0, expiry_s = 0;
    Will w;
    std::string record;
    if (!get_be(value, at, 1, retain) || !get_be(value, at, 4, delay_s) || !get_be(value, at, 8, due_wall) ||
        !get_be(value, at, 4, expiry_s) || !get_field(value, at, w.destination.vhost) ||
        !get_field(value, at, w.destination.name) || !get_field(value, at, w.topic) ||
        !get_field(value, at, record) || at != value.size())
      return failure(fmt::format("{}: a record cannot be read", file_.path()));
    auto decoded = broker::decode_message_record(record);
    if (!decoded) return failure(fmt::format("{}: a will message cannot be read", file_.path()));
    w.destination.kind = broker::DestinationKind::kTopic;
    w.retain = retain != 0;
    w.expiry_s = static_cast<std::uint32_t>(expiry_s);
    w.restored = true;
    broker::Message m = std::move(decoded->message);
    if (w.expiry_s != 0) {
      // Counted from the connection's end: this start.
      m.expires_ms = wall + std::int64_t{w.expiry_s} * 1000;
      for (auto& [name, v] : m.headers)
        if (name == "expires") v = std::to_string(m.expires_ms);
    }
    w.message = broker::make_message(std::move(m));
    std::string key;
    std::int64_t due = now;
    if (file_key.starts_with("a\n")) {
      // A connection open when the broker stopped: it ended then, without
      // DISCONNECT.
      key = file_key.substr(2, file_key.rfind('\n') - 2);
      due = now + std::int64_t(delay_s) * 1000;
      file_.erase(file_key);
      ++armed;
    } else if (file_key.starts_with("w\n")) {
      key = file_key.substr(2);
      due = now + (static_cast<std::int64_t>(due_wall) - wall);
      ++waiting;
    } else {
      return failure(fmt::format("{}: a record of an unknown kind", file_.path()));
    }
    std::lock_guard lock(mutex_);
    // A waiting will and the armed one of a later connection: the later.
    auto [it, added] = waiting_.try_emplace(key);
    if (added || file_key.starts_with("a\n")) it->second = Entry{std::move(w), due};
    file_.put(waiting_key(key), encode(it->second.will, 0, wall + (it->second.due_ms - now)));
  }
  if (file_.path().empty()) return std::string("MQTT wills are not kept (no data directory)");
  return fmt::format("MQTT wills from {}: {} of connections open at the last stop, {} waiting", file_.path(),
                     armed, waiting);
}

void MqttWills::arm(ConnectionId connection, const std::string& key, const Will& will, std::uint32_t delay_s,
                    MqttStateFile::Written written) {
  file_.put(armed_key(connection, key), encode(will, delay_s, 0), std::move(written));
}

void MqttWills::disarm(ConnectionId connection, const std::string& key, MqttStateFile::Written written) {
  file_.erase(armed_key(connection, key), std::move(written));
}

void MqttWills::defer(const std::string& key, Will will, std::int64_t due_ms) {
  if (persists()) file_.put(waiting_key(key), encode(will, 0, wall_ms() + (due_ms - mono_ms())));
  std::lock_guard lock(mutex_);
  waiting_[key] = Entry{std::move(will), due_ms};
}

void MqttWills::claimed(const std::string& key, bool publish_now, ShardId shard) {
  Will w;
  {
    std::lock_guard lock(mutex_);
    auto it = waiting_.find(key);
    if (it == waiting_.end()) return;
    // Due already (a will of a connection the last stop ended, without
    // delay, not yet published by tick()): it goes.
    if (it->second.due_ms <= mono_ms()) publish_now = true;
    w = std::move(it->second.will);
    waiting_.erase(it);
  }
  file_.erase(waiting_key(key));
  if (publish_now) publish(std::move(w), shard);
}

void MqttWills::tick(ShardId shard, std::int64_t now_ms) {
  if (shard.value != 0) return;
  std::vector<std::pair<std::string, Will>> due;
  {
    std::lock_guard lock(mutex_);
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (it->second.due_ms <= now_ms) {
        due.emplace_back(it->first, std::move(it->second.will));
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [key, w] : due) {
    publish(std::move(w), shard);
    file_.erase(waiting_key(key));
  }
}

std::size_t MqttWills::size() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

void MqttWills::publish(Will w, ShardId shard) {
  if (w.restored) {
    // Its message id is of the last run: a new one, as any new message.
    broker::Message m = *w.message;
    m.id = broker_.next_message_id(shard);
    m.id_text = fmt::format("ID:ferry-mqtt-{}-{}", shard.value, m.id.value & ((std::uint64_t{1} << 56) - 1));
    w.message = broker::make_message(std::move(m));
  }
  if (w.retain && retained_ != nullptr) {
    if (Status kept = retained_->set(w.destination.vhost, w.topic, w.message, {}); !kept)
      spdlog::info("MQTT will not retained: {}", kept.error().text());
  }
  // Nobody waits for the outcome: connection 0 is no connection.
  (void)broker_.publish(w.destination, std::move(w.message), broker::OpTicket{shard, ConnectionId(0), 0});
}

}  // namespace ferry::session
