#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

// Constants and little-endian helpers of the journal's byte format. The
// format itself is written down in docs/journal.md; change both together.

namespace ferry::store::format {

inline constexpr char kSegmentMagic[8] = {'F', 'E', 'R', 'R', 'Y', 'J', '0', '1'};
// Version 2 seals every record's CRC with its segment id (docs/journal.md
// "Sealed records"), so a recycled segment file's old records never read as
// records of its new segment. Version 1 segments (unsealed) still replay.
inline constexpr std::uint32_t kFormatVersion = 2;
inline constexpr std::uint32_t kFirstSealedVersion = 2;

// Segment header: magic(8) version(4) segment id(8) masked crc of 0..19 (4).
inline constexpr std::size_t kSegmentHeaderBytes = 24;
inline constexpr std::size_t kSegmentHeaderCrcOffset = 20;

// Record header: length(4) masked crc(4); then type(1) and payload.
inline constexpr std::size_t kRecordHeaderBytes = 8;
inline constexpr std::uint32_t kMaxRecordLength = 1u << 30;  // type + payload

// kBatch entry header: type(1) length(4).
inline constexpr std::size_t kBatchEntryHeaderBytes = 5;

// leveldb's CRC mask delta (docs/journal.md, "masked").
inline constexpr std::uint32_t kCrcMaskDelta = 0xa282ead8u;

// Segment file names: 20 zero-padded decimal digits + this suffix.
inline constexpr std::size_t kSegmentIdDigits = 20;
inline constexpr const char* kSegmentSuffix = ".seg";
inline constexpr const char* kJournalSubdir = "journal";
inline constexpr const char* kLockFile = "LOCK";

inline void put_u32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
inline void put_u64(char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
inline std::uint32_t get_u32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
inline std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace ferry::store::format
