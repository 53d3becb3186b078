#include "store/segment_writer.h"

#include "common/assert.h"
#include "store/record_codec.h"

namespace ferry::store {

SegmentWriter::SegmentWriter(SegmentId id, std::string path, std::unique_ptr<File> file,
                             std::uint64_t end, bool recycled)
    : id_(id), path_(std::move(path)), file_(std::move(file)), end_(end), synced_end_(end),
      recycled_(recycled) {}

IoStatus SegmentWriter::truncate_owed() {
  if (!cut_owed_) return IoStatus::success();
  IoStatus st = file_->truncate(end_);
  if (st.ok()) cut_owed_ = false;
  return st;
}

IoStatus SegmentWriter::append(std::span<const std::string_view> parts) {
  if (IoStatus st = truncate_owed(); !st.ok()) return st;
  std::uint64_t pos = end_;
  std::string header;
  if (end_ == 0) header = encode_segment_header(id_);
  auto write = [&](std::string_view bytes) {
    IoStatus st = file_->write_at(pos, std::span<const char>(bytes.data(), bytes.size()));
    if (st.ok()) pos += bytes.size();
    return st;
  };
  IoStatus st;
  if (!header.empty()) st = write(header);
  for (std::size_t i = 0; st.ok() && i < parts.size(); ++i) st = write(parts[i]);
  if (st.ok()) {
    end_ = pos;
    return st;
  }
  // Some prefix may be on the file: cut it now, or owe the cut.
  cut_owed_ = true;
  (void)truncate_owed();
  return st;
}

IoStatus SegmentWriter::sync() {
  IoStatus st = file_->sync();
  if (st.ok()) synced_end_ = end_;
  return st;
}

IoStatus SegmentWriter::trim(bool sync) {
  if (!recycled_) return IoStatus::success();
  if (IoStatus st = file_->truncate(end_); !st.ok()) return st;
  if (sync) {
    if (IoStatus st = file_->sync(); !st.ok()) return st;
  }
  recycled_ = false;
  cut_owed_ = false;
  return IoStatus::success();
}

IoStatus SegmentWriter::cut(std::uint64_t offset) {
  FERRY_ASSERT(offset <= end_);
  end_ = offset;
  if (synced_end_ > end_) synced_end_ = end_;
  cut_owed_ = true;
  return truncate_owed();
}

}  // namespace ferry::store
