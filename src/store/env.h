#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

// The file-system operations the journal needs, behind an interface so tests
// can inject faults (ENOSPC, EIO), drop unsynced writes and log the order of
// writes and syncs (tests/store/fault_env.h). Env::posix() is the real one.
//
// Threading: an Env and the Files it opens are used by the journal from its
// opening thread and its I/O thread, never concurrently on one File.

namespace ferry::store {

// The outcome of one I/O call: errno 0 means success.
struct IoStatus {
  int code = 0;         // errno value
  std::string context;  // what failed: "write /data/journal/000...1.seg"

  bool ok() const { return code == 0; }
  static IoStatus success() { return {}; }
  static IoStatus from_errno(int err, std::string what) { return {err, std::move(what)}; }
  // "<context>: <strerror(code)>"
  std::string to_string() const;
};

// An open read-write file. Offsets are explicit (pread/pwrite): the journal
// tracks its own end of data and never relies on a file position.
class File {
 public:
  virtual ~File() = default;
  // Reads up to out.size() bytes at offset; `read` gets how many (short at EOF).
  virtual IoStatus read_at(std::uint64_t offset, std::span<char> out, std::size_t& read) = 0;
  // Writes all of data at offset (retries short writes); on failure some
  // prefix of data may have been written.
  virtual IoStatus write_at(std::uint64_t offset, std::span<const char> data) = 0;
  virtual IoStatus sync() = 0;  // fdatasync
  virtual IoStatus truncate(std::uint64_t size) = 0;
  virtual IoStatus size(std::uint64_t& out) = 0;
};

// Held while the object lives; releasing unlocks.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX environment.
  static Env& posix();

  // mkdir -p; success when it already exists.
  virtual IoStatus create_dirs(const std::string& path) = 0;
  // File names (not paths) in a directory, without "." and "..".
  virtual IoStatus list_dir(const std::string& path, std::vector<std::string>& names) = 0;
  // Opens read-write; creates it when `create`.
  virtual IoStatus open_file(const std::string& path, bool create, std::unique_ptr<File>& out) = 0;
  virtual IoStatus remove_file(const std::string& path) = 0;
  // rename(2): replaces `to` atomically; durable after sync_dir.
  virtual IoStatus rename_file(const std::string& from, const std::string& to) = 0;
  // fsync of a directory, so a created or removed entry is durable.
  virtual IoStatus sync_dir(const std::string& path) = 0;
  // flock(LOCK_EX | LOCK_NB) on path (created if missing). Taken elsewhere
  // (another process, or another open file description in this one):
  // code EWOULDBLOCK.
  virtual IoStatus lock_file(const std::string& path, std::unique_ptr<FileLock>& out) = 0;
};

}  // namespace ferry::store
