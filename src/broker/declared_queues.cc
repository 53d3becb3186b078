#include "broker/declared_queues.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ferry::broker {

namespace {

std::string errno_text() { return std::strerror(errno); }

bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

DeclaredQueues::DeclaredQueues(std::string data_dir)
    : path_(data_dir + "/declared-queues.json"), dir_(std::move(data_dir)) {}

std::string DeclaredQueues::load() {
  std::ifstream in(path_);
  if (!in) return "";  // none declared yet
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_array()) return path_ + ": not a JSON array of {\"vhost\", \"name\"}";
  std::set<Entry> entries;
  for (const auto& e : j) {
    if (!e.is_object() || !e.contains("vhost") || !e.contains("name") || !e["vhost"].is_string() ||
        !e["name"].is_string())
      return path_ + ": an entry is not {\"vhost\": string, \"name\": string}";
    entries.emplace(e["vhost"].get<std::string>(), e["name"].get<std::string>());
  }
  entries_ = std::move(entries);
  return "";
}

std::string DeclaredQueues::add(const std::string& vhost, const std::string& name) {
  if (entries_.contains({vhost, name})) return "";
  auto next = entries_;
  next.emplace(vhost, name);
  if (std::string e = save(next); !e.empty()) return e;
  entries_ = std::move(next);
  return "";
}

std::string DeclaredQueues::remove(const std::string& vhost, const std::string& name) {
  if (!entries_.contains({vhost, name})) return "";
  auto next = entries_;
  next.erase({vhost, name});
  if (std::string e = save(next); !e.empty()) return e;
  entries_ = std::move(next);
  return "";
}

std::string DeclaredQueues::save(const std::set<Entry>& entries) const {
  auto j = nlohmann::json::array();
  for (const auto& [vhost, name] : entries) j.push_back({{"vhost", vhost}, {"name", name}});
  const std::string data = j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  const std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot write " + tmp + ": " + errno_text();
  if (!write_all(fd, data) || ::fdatasync(fd) != 0) {
    std::string e = "cannot write " + tmp + ": " + errno_text();
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  }
  ::close(fd);
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    std::string e = "cannot replace " + path_ + ": " + errno_text();
    ::unlink(tmp.c_str());
    return e;
  }
  if (int d = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
    (void)::fsync(d);
    ::close(d);
  }
  return "";
}

}  // namespace ferry::broker
