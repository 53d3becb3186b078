#include "stream/segment_file.h"

#include <algorithm>
#include <cstdio>

#include "store/crc32c.h"
#include "store/record_format.h"

namespace ferry::stream {

using store::format::get_u32;
using store::format::get_u64;
using store::format::put_u32;
using store::format::put_u64;
using namespace format;

namespace {

const char* suffix_of(SegmentFileKind kind) {
  switch (kind) {
    case SegmentFileKind::kLog: return kLogSuffix;
    case SegmentFileKind::kOffsetIndex: return kOffsetIndexSuffix;
    case SegmentFileKind::kTimeIndex: return kTimeIndexSuffix;
  }
  return kLogSuffix;
}

}  // namespace

std::string segment_file_name(StreamOffset base, SegmentFileKind kind) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(base.value));
  return std::string(buf) + suffix_of(kind);
}

std::optional<ParsedFileName> parse_segment_file_name(std::string_view name) {
  if (name.size() <= kBaseOffsetDigits) return std::nullopt;
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < kBaseOffsetDigits; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  const std::string_view suffix = name.substr(kBaseOffsetDigits);
  for (const auto kind : {SegmentFileKind::kLog, SegmentFileKind::kOffsetIndex, SegmentFileKind::kTimeIndex}) {
    if (suffix == suffix_of(kind)) return ParsedFileName{StreamOffset{v}, kind};
  }
  return std::nullopt;
}

std::string encode_segment_header(StreamOffset base) {
  std::string h(kSegmentHeaderBytes, '\0');
  std::copy(kSegmentMagic, kSegmentMagic + 8, h.data());
  put_u32(h.data() + 8, kSegmentVersion);
  put_u64(h.data() + 12, base.value);
  put_u32(h.data() + 20, store::crc32c::mask(store::crc32c::value(h.data(), 20)));
  return h;
}

bool check_segment_header(std::span<const char> bytes, StreamOffset base, std::string& why) {
  if (bytes.size() < kSegmentHeaderBytes) {
    why = "short segment header";
    return false;
  }
  const char* h = bytes.data();
  if (!std::equal(kSegmentMagic, kSegmentMagic + 8, h)) {
    why = "bad segment magic";
    return false;
  }
  if (store::crc32c::mask(store::crc32c::value(h, 20)) != get_u32(h + 20)) {
    why = "segment header CRC mismatch";
    return false;
  }
  if (get_u32(h + 8) != kSegmentVersion) {
    why = "unknown segment version " + std::to_string(get_u32(h + 8));
    return false;
  }
  if (get_u64(h + 12) != base.value) {
    why = "segment header names base offset " + std::to_string(get_u64(h + 12));
    return false;
  }
  return true;
}

bool read_batch_header(store::File& file, std::uint64_t position, std::uint64_t file_end, BatchHeader& out,
                       std::string& why, store::IoStatus& io) {
  if (position >= file_end || file_end - position < kBatchHeaderBytes) {
    why = "short batch header";
    return false;
  }
  char h[kBatchHeaderBytes];
  std::size_t got = 0;
  io = file.read_at(position, std::span<char>(h, sizeof h), got);
  if (!io.ok()) {
    why = io.to_string();
    return false;
  }
  if (got < sizeof h) {
    why = "short batch header";
    return false;
  }
  if (!parse_batch_header(std::span<const char>(h, sizeof h), kMaxBatchBytesLimit, out, why)) return false;
  if (out.size > file_end - position) {
    why = "short batch (" + std::to_string(file_end - position) + " of " + std::to_string(out.size) + " bytes)";
    return false;
  }
  return true;
}

SegmentFileScan scan_segment_file(store::File& file, std::uint64_t from, std::uint64_t end,
                                  SegmentIndex& index) {
  SegmentFileScan scan;
  std::string buf;
  std::uint64_t pos = from;
  while (pos < end) {
    BatchHeader h;
    if (!read_batch_header(file, pos, end, h, scan.why, scan.io)) break;
    buf.resize(static_cast<std::size_t>(h.size));
    std::size_t got = 0;
    scan.io = file.read_at(pos, std::span<char>(buf.data(), buf.size()), got);
    if (!scan.io.ok()) {
      scan.why = scan.io.to_string();
      break;
    }
    if (got < buf.size()) {
      scan.why = "short batch";
      break;
    }
    if (!check_batch(std::span<const char>(buf.data(), buf.size()), kMaxBatchBytesLimit, h, scan.why)) break;
    if (h.base != index.next()) {
      scan.why = "batch base offset " + std::to_string(h.base.value) + ", expected " +
                 std::to_string(index.next().value);
      break;
    }
    if (h.next().value - index.base().value >= (1ull << 32)) {
      scan.why = "offsets past the segment's range";
      break;
    }
    index.add_batch(h, pos);
    pos += h.size;
    ++scan.batches;
  }
  scan.valid_end = pos;
  if (pos >= end) scan.why.clear();
  return scan;
}

}  // namespace ferry::stream
