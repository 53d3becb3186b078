#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/journal.h"

// Encoding and decoding of single records and segment headers
// (docs/journal.md). Pure functions over bytes: no I/O, no state.

namespace ferry::store {

// The seal of segment `id`'s records: the value XORed into each record's
// stored (masked) CRC in a sealed segment (format version 2). Distinct for
// distinct ids below 2^32 and never 0 for those.
std::uint32_t record_seal(SegmentId id);
// The seal to read segment `id`'s records with, from the start of its file:
// 0 for a valid version-1 header (unsealed), record_seal(id) otherwise (a
// current header, or a bad one: records found past it are checked as this
// version writes them).
std::uint32_t read_seal(std::span<const char> data, SegmentId id);

// The segment whose seal makes the record at `offset` valid, if a whole
// record with a known type is there and some segment's does: tells a
// recycled file's old records (an earlier segment's) from torn or corrupt
// bytes. nullopt otherwise (also for unsealed, version-1 records).
std::optional<SegmentId> sealed_for(std::span<const char> data, std::uint64_t offset);

// Appends one framed record (length, masked crc ^ seal, type, payload) to out.
void encode_record(std::string& out, RecordType type, std::span<const char> payload, std::uint32_t seal);
// The same in two steps, so that the CRC can be computed outside a lock and
// the record written straight into a shared buffer under it: record_crc()
// is the masked CRC of type and payload, append_record() frames them.
std::uint32_t record_crc(RecordType type, std::span<const char> payload);
void append_record(std::string& out, RecordType type, std::span<const char> payload, std::uint32_t crc,
                   std::uint32_t seal);
// Changes the seal of the encoded record starting at `record` (XOR of the
// old and the new seal): records are encoded before their segment is known.
void reseal_record(char* record, std::uint32_t seal_xor);
// The payload of a kBatch record for these entries. Entries must not be kBatch.
std::string encode_batch_payload(const std::vector<std::pair<RecordType, std::string>>& records);
// The 24-byte segment header.
std::string encode_segment_header(SegmentId id);
// Whether data starts with a valid header for segment `id` (format version 1
// or 2); why not in `why`. `version` gets the header's version when valid.
bool check_segment_header(std::span<const char> data, SegmentId id, std::string& why,
                          std::uint32_t* version = nullptr);

bool is_known_type(std::uint8_t type);

// The record starting at `offset` of `data`, if it is valid (every test of
// docs/journal.md "Recovery" step 1). On failure, `why` says which test failed.
struct RecordView {
  RecordType type;
  std::span<const char> payload;
  std::uint64_t offset;  // of the record header
  std::uint64_t size;    // header + type + payload
};
// `seal` is the segment's (read_seal).
bool parse_record(std::span<const char> data, std::uint64_t offset, RecordView& out,
                  std::string& why, std::uint32_t seal);

// Calls visit(type, payload) for each entry of a valid kBatch payload.
// Returns false (visiting nothing) when the entries do not exactly fill it.
bool for_each_batch_entry(std::span<const char> payload,
                          const std::function<void(RecordType, std::span<const char>)>& visit);

}  // namespace ferry::store
