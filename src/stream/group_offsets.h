#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/env.h"
#include "stream/stream_format.h"

// A stream's consumer groups' committed offsets (docs/streams.md "Consumer
// groups"): one small file, <stream directory>/group-offsets, replaced
// atomically and durably (store::replace_file) with the whole table each
// time it is written. A group's committed offset is the next offset it
// reads (Kafka's meaning): every entry before it was consumed.
//
// GroupOffsetFile coalesces writes as the journal does its records: any
// number of submit() calls made while a write runs are covered by the next
// write (the newest table), and each submitter's `done` runs once a table
// at least as new as its own is on disk. Thread-safe: the owning shard
// submits, the stream committer's thread writes.

namespace ferry::stream {

using GroupOffsets = std::map<std::string, StreamOffset>;

// The file's bytes (docs/streams.md "Consumer groups"): a first line
// `ferry-stream-offsets 1`, then one line per group, `<offset> <name>`,
// the name with bytes outside '!'..'~' and '%' written as %XX.
std::string encode_group_offsets(const GroupOffsets& offsets);
// An Error (`corrupt group offsets: ...`, naming the line) for anything
// encode_group_offsets() would not write.
Result<GroupOffsets> decode_group_offsets(std::string_view text);

class GroupOffsetFile {
 public:
  using Done = std::function<void(const Status&)>;

  // `env` outlives this. The file is <directory>/group-offsets.
  GroupOffsetFile(store::Env& env, std::string directory);

  // The table as it was last written (empty when there is no file); an
  // Error when the file is there but unreadable or corrupt.
  Result<GroupOffsets> load();

  // Any thread: `table` (encoded) is to be written; `done` (may be empty)
  // runs on the writing thread once it, or a newer table, is durable, or
  // with the write's Error. True when the caller must arrange one call of
  // write_pending() (no write is queued yet).
  bool submit(std::string table, Done done);
  // The writer's thread: writes the newest submitted table and runs the
  // completions it covers. Loops until nothing is pending.
  void write_pending();

  const std::string& path() const { return path_; }

 private:
  store::Env& env_;
  const std::string directory_;
  const std::string path_;
  std::mutex mutex_;  // a leaf
  std::string pending_;
  std::vector<Done> waiting_;
  bool has_pending_ = false;
  bool queued_ = false;  // a write_pending() call is arranged and has not taken the table yet
};

}  // namespace ferry::stream
