#include "session/mqtt_retained.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "broker/message_codec.h"
#include "common/clock.h"
#include "common/log.h"
#include "mqtt/topic.h"
#include "store/env.h"
#include "store/replace_file.h"

namespace ferry::session {

namespace {

constexpr std::string_view kMagic = "FERRY-RETAINED 1\n";

std::uint64_t cost(const std::string& topic, const broker::MessageRef& m) { return topic.size() + m->body.size(); }

}  // namespace

MqttRetained::MqttRetained(std::string dir, Limits limits)
    : dir_(std::move(dir)), path_(dir_.empty() ? std::string() : dir_ + "/mqtt-retained"), limits_(limits) {
  if (!dir_.empty()) writer_ = std::thread([this] { run(); });
}

MqttRetained::~MqttRetained() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

Result<std::string> MqttRetained::load() {
  if (path_.empty()) return std::string("MQTT retained messages are not kept (no data directory)");
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return fmt::format("no MQTT retained messages in {}", path_);
    return failure(fmt::format("cannot read {}: {}", path_, std::strerror(errno)));
  }
  std::ostringstream all;
  all << in.rdbuf();
  const std::string data = all.str();
  if (!data.starts_with(kMagic)) return failure(fmt::format("{}: not a retained message file", path_));
  std::size_t at = kMagic.size();
  std::lock_guard lock(mutex_);
  while (at < data.size()) {
    if (data.size() - at < 4) return failure(fmt::format("{}: truncated at byte {}", path_, at));
    const auto* p = reinterpret_cast<const unsigned char*>(data.data() + at);
    const std::size_t n = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3];
    at += 4;
    if (data.size() - at < n) return failure(fmt::format("{}: truncated at byte {}", path_, at));
    auto record = broker::decode_message_record(std::string_view(data).substr(at, n));
    if (!record) return failure(fmt::format("{}: a record at byte {} cannot be read", path_, at));
    at += n;
    const auto nl = record->queue.find('\n');
    if (nl == std::string::npos) return failure(fmt::format("{}: a record without a vhost", path_));
    broker::MessageRef m = broker::make_message(std::move(record->message));
    bytes_ += cost(record->queue.substr(nl + 1), m);
    entries_[std::move(record->queue)] = std::move(m);
  }
  return fmt::format("{} MQTT retained messages from {}", entries_.size(), path_);
}

Status MqttRetained::set(const std::string& vhost, const std::string& topic, broker::MessageRef m,
                         std::function<void(const Status&)> written) {
  {
    std::lock_guard lock(mutex_);
    std::string key = vhost + '\n' + topic;
    auto it = entries_.find(key);
    const std::uint64_t before = it == entries_.end() ? 0 : cost(topic, it->second);
    if (m->body.empty()) {
      if (it != entries_.end()) {
        bytes_ -= before;
        entries_.erase(it);
      }
    } else {
      const std::uint64_t after = cost(topic, m);
      if (it == entries_.end() && limits_.max_messages != 0 && entries_.size() >= limits_.max_messages)
        return failure(fmt::format("retained message limit reached (mqtt-max-retained {})", limits_.max_messages));
      if (limits_.max_bytes != 0 && bytes_ - before + after > limits_.max_bytes)
        return failure(fmt::format("retained message bytes limit reached (mqtt-max-retained-bytes {})", limits_.max_bytes));
      bytes_ = bytes_ - before + after;
      if (it == entries_.end()) entries_.emplace(std::move(key), std::move(m));
      else it->second = std::move(m);
    }
    if (!path_.empty()) {
      dirty_ = true;
      if (written) waiting_.push_back(std::move(written));
      written = nullptr;
    }
  }
  if (written) written(Status{});  // nothing persists
  wake_.notify_one();
  return {};
}

std::vector<broker::MessageRef> MqttRetained::matching(std::string_view vhost, std::string_view filter) const {
  std::vector<broker::MessageRef> out;
  const std::int64_t now = wall_ms();
  std::lock_guard lock(mutex_);
  const std::string prefix = std::string(vhost) + '\n';
  for (auto it = entries_.lower_bound(prefix); it != entries_.end() && it->first.starts_with(prefix); ++it) {
    const std::string_view topic = std::string_view(it->first).substr(prefix.size());
    if (it->second->expired_at(now) || !mqtt::topic_matches(filter, topic)) continue;
    out.push_back(it->second);
  }
  return out;
}

std::size_t MqttRetained::count() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::uint64_t MqttRetained::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

void MqttRetained::run() {
  std::string data;
  std::string record;
  for (;;) {
    std::vector<std::function<void(const Status&)>> done;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return dirty_ || stop_; });
      if (!dirty_) return;  // stopping, nothing pending
      dirty_ = false;
      done.swap(waiting_);
      // The file's bytes, made under the lock (a copy of every message
      // would cost as much); written without it.
      data.assign(kMagic);
      const std::int64_t now = wall_ms();
      for (const auto& [key, m] : entries_) {
        if (m->expired_at(now)) continue;
        broker::encode_message_record(record, key, *m, 0, 0);
        const auto n = static_cast<std::uint32_t>(record.size());
        const char len[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                             static_cast<char>(n)};
        data.append(len, 4);
        data += record;
      }
    }
    const Status written = write(data);
    if (!written) spdlog::error("MQTT retained messages: {}", written.error().text());
    for (auto& d : done) d(written);
  }
}

Status MqttRetained::write(const std::string& data) {
  if (store::IoStatus st = store::replace_file(store::Env::posix(), path_, dir_, data, true); !st.ok())
    return failure("cannot write " + st.to_string());
  return {};
}

}  // namespace ferry::session
