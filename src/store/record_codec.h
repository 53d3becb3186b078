#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/journal.h"

// Encoding and decoding of single records and segment headers
// (docs/journal.md). Pure functions over bytes: no I/O, no state.

namespace ferry::store {

// Appends one framed record (length, masked crc, type, payload) to out.
void encode_record(std::string& out, RecordType type, std::span<const char> payload);
// The payload of a kBatch record for these entries. Entries must not be kBatch.
std::string encode_batch_payload(const std::vector<std::pair<RecordType, std::string>>& records);
// The 24-byte segment header.
std::string encode_segment_header(SegmentId id);
// Whether data starts with a valid header for segment `id`; why not in `why`.
bool check_segment_header(std::span<const char> data, SegmentId id, std::string& why);

bool is_known_type(std::uint8_t type);

// The record starting at `offset` of `data`, if it is valid (every test of
// docs/journal.md "Recovery" step 1). On failure, `why` says which test failed.
struct RecordView {
  RecordType type;
  std::span<const char> payload;
  std::uint64_t offset;  // of the record header
  std::uint64_t size;    // header + type + payload
};
bool parse_record(std::span<const char> data, std::uint64_t offset, RecordView& out,
                  std::string& why);

// Calls visit(type, payload) for each entry of a valid kBatch payload.
// Returns false (visiting nothing) when the entries do not exactly fill it.
bool for_each_batch_entry(std::span<const char> payload,
                          const std::function<void(RecordType, std::span<const char>)>& visit);

}  // namespace ferry::store
