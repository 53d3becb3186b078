#pragma once

#include <cstddef>
#include <cstdint>

#include "common/strong_id.h"

// Constants of a stream partition's byte format. The format itself is
// written down in docs/streams.md; change both together. Integers are
// little-endian (store/record_format.h's put/get helpers); CRCs are CRC32C,
// masked as the journal's (store/crc32c.h).

namespace ferry::stream {

// The position of an entry in its partition: 0, 1, 2, ... with no gap, for
// ever (retention deletes the oldest segments; offsets are never reused).
using StreamOffset = StrongId<struct StreamOffsetTag>;

namespace format {

// Segment file header: magic(8) version(4) base offset(8) masked crc of 0..19 (4).
inline constexpr char kSegmentMagic[8] = {'F', 'E', 'R', 'R', 'Y', 'S', '0', '1'};
inline constexpr std::uint32_t kSegmentVersion = 1;
inline constexpr std::size_t kSegmentHeaderBytes = 24;

// Batch header: length(4) masked crc(4) base offset(8) entry count(4)
// attributes(4) first timestamp(8) last timestamp(8) leader epoch(4)
// reserved(4, zero); then the entries.
// `length` counts the bytes after the first 8 (the rest of the header and
// the entries); the CRC covers exactly those bytes.
inline constexpr std::size_t kBatchPrefixBytes = 8;
inline constexpr std::size_t kBatchHeaderBytes = 48;
// Attributes: bits 0..2 compression (0 = none; the rest is reserved for
// zstd/lz4 and refused until then); every other bit must be 0.
inline constexpr std::uint32_t kCompressionMask = 0x7;
// Bit 3: a hole. Compaction (cleanup.policy=compact) removed the `count`
// entries at offsets [base, base + count); the batch is its 48-byte header
// alone (no entries) so that offsets stay contiguous batch by batch, and a
// reader at a removed offset goes on at the next kept one. The only
// attribute value besides 0; compression bits must be 0 with it.
inline constexpr std::uint32_t kBatchHole = 0x8;

// Entry: length(4) timestamp(8) flags(1) key length(4) key header count(4)
// (name length(4) name value length(4) value)* body length(4) body.
// `length` counts the bytes after itself.
inline constexpr std::size_t kEntryLengthBytes = 4;
inline constexpr std::size_t kEntryMinBytes = 4 + 8 + 1 + 4 + 4 + 4;  // empty key, no header, empty body
inline constexpr std::uint8_t kEntryHasKey = 0x01;

// Index file header (both kinds): magic(8) version(4) kind(4) base offset(8)
// log bytes(8) next offset(8) last batch base(8) first timestamp(8)
// max timestamp(8) entry count(4) last batch's leader epoch(4) masked
// crc(4); entries follow.
inline constexpr char kIndexMagic[8] = {'F', 'E', 'R', 'R', 'Y', 'X', '0', '1'};
inline constexpr std::uint32_t kIndexVersion = 1;
inline constexpr std::uint32_t kOffsetIndexKind = 1;
inline constexpr std::uint32_t kTimeIndexKind = 2;
inline constexpr std::size_t kIndexHeaderBytes = 76;
inline constexpr std::size_t kIndexCrcOffset = 72;
// Offset index entry: relative offset(4) file position(4).
inline constexpr std::size_t kOffsetIndexEntryBytes = 8;
// Time index entry: timestamp(8) relative offset(4).
inline constexpr std::size_t kTimeIndexEntryBytes = 12;

// File names: the segment's base offset in 20 zero-padded digits + suffix.
inline constexpr std::size_t kBaseOffsetDigits = 20;
inline constexpr const char* kLogSuffix = ".log";
inline constexpr const char* kOffsetIndexSuffix = ".index";
inline constexpr const char* kTimeIndexSuffix = ".timeindex";

// Hard ceilings of the format (options are checked against them): file
// positions in the offset index are u32, so a segment (its last batch
// included) stays below 4 GiB.
inline constexpr std::uint64_t kMaxSegmentBytesLimit = 2ull << 30;
inline constexpr std::uint32_t kMaxBatchBytesLimit = 256u << 20;

}  // namespace format
}  // namespace ferry::stream
