#include "session/mqtt_state_file.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "store/env.h"
#include "store/replace_file.h"

namespace ferry::session {

namespace {

void append_length(std::string& out, std::size_t n) {
  const char len[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                       static_cast<char>(n)};
  out.append(len, 4);
}

// The next length-prefixed field of `data` at `at`; false if truncated.
bool read_field(const std::string& data, std::size_t& at, std::string& field) {
  if (data.size() - at < 4) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data() + at);
  const std::size_t n = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3];
  at += 4;
  if (data.size() - at < n) return false;
  field.assign(data, at, n);
  at += n;
  return true;
}

}  // namespace

MqttStateFile::MqttStateFile(std::string dir, std::string name, std::string magic)
    : dir_(std::move(dir)), path_(dir_.empty() ? std::string() : dir_ + "/" + name), magic_(std::move(magic)) {
  if (!dir_.empty()) writer_ = std::thread([this] { run(); });
}

MqttStateFile::~MqttStateFile() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

Result<std::map<std::string, std::string>> MqttStateFile::load() {
  std::map<std::string, std::string> out;
  if (path_.empty()) return out;
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return out;
    return failure(fmt::format("cannot read {}: {}", path_, std::strerror(errno)));
  }
  std::ostringstream all;
  all << in.rdbuf();
  const std::string data = all.str();
  if (!data.starts_with(magic_)) return failure(fmt::format("{}: not a file of this kind", path_));
  std::size_t at = magic_.size();
  while (at < data.size()) {
    std::string key, value;
    if (!read_field(data, at, key) || !read_field(data, at, value))
      return failure(fmt::format("{}: truncated at byte {}", path_, at));
    out[std::move(key)] = std::move(value);
  }
  std::lock_guard lock(mutex_);
  records_ = out;
  return out;
}

void MqttStateFile::put(const std::string& key, std::string value, Written written) {
  {
    std::lock_guard lock(mutex_);
    records_[key] = std::move(value);
  }
  changed(std::move(written));
}

void MqttStateFile::erase(const std::string& key, Written written) {
  {
    std::lock_guard lock(mutex_);
    records_.erase(key);
  }
  changed(std::move(written));
}

void MqttStateFile::changed(Written written) {
  if (path_.empty()) {
    if (written) written(Status{});  // nothing persists
    return;
  }
  {
    std::lock_guard lock(mutex_);
    dirty_ = true;
    if (written) waiting_.push_back(std::move(written));
  }
  wake_.notify_one();
}

void MqttStateFile::run() {
  std::string data;
  for (;;) {
    std::vector<Written> done;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return dirty_ || stop_; });
      if (!dirty_) return;  // stopping, nothing pending
      dirty_ = false;
      done.swap(waiting_);
      data.assign(magic_);
      for (const auto& [key, value] : records_) {
        append_length(data, key.size());
        data += key;
        append_length(data, value.size());
        data += value;
      }
    }
    Status written;
    if (store::IoStatus st = store::replace_file(store::Env::posix(), path_, dir_, data, true); !st.ok()) {
      written = failure("cannot write " + st.to_string());
      spdlog::error("MQTT session state: {}", written.error().text());
    }
    for (auto& d : done) d(written);
  }
}

}  // namespace ferry::session
