#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "store/env.h"

namespace ferry::store::testing {

// An Env over a real one (POSIX by default) that injects faults and watches
// the journal's I/O: failed writes (with a partial prefix landing, as a real
// ENOSPC can), failed syncs, slow syncs (a disk), a power loss that drops
// every unsynced byte, and a log of writes, syncs and test notes in the
// order they happened. Thread-safe.
class FaultEnv final : public Env {
 public:
  explicit FaultEnv(Env& base = Env::posix()) : base_(base) {}

  // Writes fail with `err`; the first `partial_bytes` of each failing write
  // still land in the file.
  void fail_writes(int err, std::size_t partial_bytes = 0);
  void fail_syncs(int err);
  void clear_faults();
  void set_sync_delay_us(int us);

  // Power loss: every file is cut back to its synced size, then every call
  // fails with EIO (nothing more reaches the disk) until restart().
  void crash();
  void restart();

  // Events: "write <file> <offset> <bytes>", "sync <file>",
  // "truncate <file> <size>", "remove <file>", "rename <from> <to>", and
  // note() texts.
  void note(const std::string& text);
  std::vector<std::string> events() const;
  // Bytes written to files but not covered by a sync yet.
  std::uint64_t unsynced_bytes() const;
  int failed_writes() const;

  IoStatus create_dirs(const std::string& path) override;
  IoStatus list_dir(const std::string& path, std::vector<std::string>& names) override;
  IoStatus open_file(const std::string& path, bool create, std::unique_ptr<File>& out) override;
  IoStatus remove_file(const std::string& path) override;
  IoStatus rename_file(const std::string& from, const std::string& to) override;
  IoStatus sync_dir(const std::string& path) override;
  IoStatus lock_file(const std::string& path, std::unique_ptr<FileLock>& out) override;

 private:
  friend class FaultFile;
  struct FileState {
    std::uint64_t size = 0;    // as written through this env
    std::uint64_t synced = 0;  // size at the last sync
    // Durable bytes overwritten since the last sync: (offset, old bytes).
    std::vector<std::pair<std::uint64_t, std::string>> undo;
  };

  Env& base_;
  mutable std::mutex mutex_;
  int write_err_ = 0;
  std::size_t partial_bytes_ = 0;
  int sync_err_ = 0;
  int sync_delay_us_ = 0;
  bool crashed_ = false;
  int failed_writes_ = 0;
  std::map<std::string, FileState> files_;
  std::vector<std::string> events_;
};

}  // namespace ferry::store::testing
