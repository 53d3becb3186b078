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

}  // namespace ferry::http
