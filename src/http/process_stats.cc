#include "http/process_stats.h"

#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ferry::http {

std::uint64_t resident_bytes() {
  std::ifstream in("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::uint64_t free_disk_bytes(const std::string& path) {
  struct statvfs s {};
  if (::statvfs(path.c_str(), &s) != 0) return 0;
  return static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize;
}

std::string node_name() {
  // Read once: every queue and metric line names the node.
  static const std::string name = [] {
    char host[256] = {};
    if (::gethostname(host, sizeof(host) - 1) != 0) return std::string("ferry@localhost");
    return std::string("ferry@") + host;
  }();
  return name;
}

namespace {

// The boot time, from /proc/stat's `btime` line (seconds since the epoch).
std::uint64_t boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  std::uint64_t value = 0;
  while (in >> key) {
    if (key == "btime" && (in >> value)) return value;
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

ProcessStats process_stats() {
  ProcessStats p;
  const auto ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  {
    // /proc/self/stat: the command name (field 2) is in parentheses and may
    // hold spaces, so fields are counted from the last ')'.
    std::ifstream in("/proc/self/stat");
    std::string line;
    std::getline(in, line);
    const auto close = line.rfind(')');
    if (close != std::string::npos && ticks > 0) {
      std::istringstream fields(line.substr(close + 2));
      std::string f;
      std::vector<std::string> v;
      while (fields >> f) v.push_back(f);
      // v[0] is field 3 (state): utime is field 14, stime 15, starttime 22.
      if (v.size() > 19) {
        p.cpu_seconds = (std::strtod(v[11].c_str(), nullptr) + std::strtod(v[12].c_str(), nullptr)) / ticks;
        p.start_time_seconds = static_cast<double>(boot_time_seconds()) + std::strtod(v[19].c_str(), nullptr) / ticks;
      }
    }
  }
  {
    std::ifstream in("/proc/self/statm");
    std::uint64_t size = 0, resident = 0;
    if (in >> size >> resident) {
      const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
      p.virtual_bytes = size * page;
      p.resident_bytes = resident * page;
    }
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++p.open_fds;
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) p.max_fds = limit.rlim_cur;
  return p;
}

}  // namespace ferry::http
