#pragma once

#include <cstdint>
#include <string>

namespace ferry::http {

// This process's resident memory, from /proc/self/statm (0 if unreadable).
std::uint64_t resident_bytes();
// Free bytes for unprivileged users on the file system holding `path`
// (0 if unknown).
std::uint64_t free_disk_bytes(const std::string& path);
// "ferry@<hostname>".
std::string node_name();

// What Prometheus' client libraries export as process_* metrics (their
// names are what dashboards expect), read from /proc; 0 where unreadable.
struct ProcessStats {
  double cpu_seconds = 0;             // user + system
  std::uint64_t open_fds = 0;
  std::uint64_t max_fds = 0;          // RLIMIT_NOFILE soft limit
  std::uint64_t virtual_bytes = 0;
  std::uint64_t resident_bytes = 0;
  double start_time_seconds = 0;      // since the Unix epoch
};
ProcessStats process_stats();

}  // namespace ferry::http
