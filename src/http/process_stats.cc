#include "http/process_stats.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <fstream>

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
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) return "ferry@localhost";
  return std::string("ferry@") + host;
}

}  // namespace ferry::http
