#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "store/env.h"
#include "store/journal.h"

// Appends to one segment file. Owned and used by the journal's I/O thread
// only. Keeps three positions apart: `end` (bytes written and not failed),
// `synced_end` (covered by a successful sync), and the file's actual size,
// which is larger than `end` while a cut of a failed write is still owed
// (then every append first retries it: writing past stale bytes could
// resurrect a failed record, docs/journal.md "Writing") and in a recycled
// file, whose bytes past `end` are an earlier segment's (sealed with another
// id: never valid here) until trim() cuts them.

namespace ferry::store {

class SegmentWriter {
 public:
  // `file` holds valid data up to `end` (0 for a new segment: the header is
  // then written in front of the first append).
  // `recycled`: the file held another segment; its old bytes follow `end`.
  SegmentWriter(SegmentId id, std::string path, std::unique_ptr<File> file, std::uint64_t end,
                bool recycled = false);

  SegmentId id() const { return id_; }
  const std::string& path() const { return path_; }
  std::uint64_t end() const { return end_; }
  std::uint64_t synced_end() const { return synced_end_; }
  bool dirty() const { return end_ > synced_end_; }
  bool recycled() const { return recycled_; }

  // Writes the parts back to back at end(). On failure the file is cut back
  // to end() (or the cut is owed) and the error returned; end() is unchanged.
  IoStatus append(std::span<const std::string_view> parts);
  // fdatasync; on success synced_end() = end().
  IoStatus sync();
  // Drops everything after `offset` (<= end()): undoes appends whose sync failed.
  IoStatus cut(std::uint64_t offset);
  // A recycled file: drops the old bytes past end() (and, when `sync`, makes
  // the new size durable) so only the last segment ever has a tail to cut.
  IoStatus trim(bool sync);

 private:
  IoStatus truncate_owed();

  SegmentId id_;
  std::string path_;
  std::unique_ptr<File> file_;
  std::uint64_t end_;
  std::uint64_t synced_end_;
  bool cut_owed_ = false;
  bool recycled_ = false;
};

}  // namespace ferry::store
