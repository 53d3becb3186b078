#include "store/record_codec.h"

#include "common/assert.h"
#include "store/crc32c.h"
#include "store/record_format.h"

namespace ferry::store {

using namespace format;

std::uint32_t record_seal(SegmentId id) {
  // An odd multiplier is a bijection on 32-bit values: ids that differ below
  // 2^32 get different seals, and only id 0 (never used) gets 0.
  return static_cast<std::uint32_t>(id.value) * 0x9E3779B1u;
}

std::optional<SegmentId> sealed_for(std::span<const char> data, std::uint64_t offset) {
  if (offset > data.size() || data.size() - offset < kRecordHeaderBytes) return std::nullopt;
  const char* p = data.data() + offset;
  const std::uint32_t length = get_u32(p);
  if (length == 0 || length > kMaxRecordLength || data.size() - offset - kRecordHeaderBytes < length ||
      !is_known_type(static_cast<std::uint8_t>(p[8])))
    return std::nullopt;
  const std::uint32_t seal = get_u32(p + 4) ^ crc32c::mask(crc32c::value(p + 8, length));
  if (seal == 0) return std::nullopt;
  // record_seal's inverse: 0x0E8B2F51 * 0x9E3779B1 = 1 (mod 2^32).
  return SegmentId{static_cast<std::uint32_t>(seal * 0x0E8B2F51u)};
}

std::uint32_t read_seal(std::span<const char> data, SegmentId id) {
  std::string why;
  std::uint32_t version = 0;
  if (check_segment_header(data, id, why, &version) && version < kFirstSealedVersion) return 0;
  return record_seal(id);
}

void reseal_record(char* record, std::uint32_t seal_xor) {
  put_u32(record + 4, get_u32(record + 4) ^ seal_xor);
}

void encode_record(std::string& out, RecordType type, std::span<const char> payload, std::uint32_t seal) {
  append_record(out, type, payload, record_crc(type, payload), seal);
}

std::uint32_t record_crc(RecordType type, std::span<const char> payload) {
  const char type_byte = static_cast<char>(type);
  std::uint32_t crc = crc32c::extend(0, &type_byte, 1);
  crc = crc32c::extend(crc, payload.data(), payload.size());
  return crc32c::mask(crc);
}

void append_record(std::string& out, RecordType type, std::span<const char> payload, std::uint32_t crc,
                   std::uint32_t seal) {
  FERRY_ASSERT(payload.size() < kMaxRecordLength);
  const auto length = static_cast<std::uint32_t>(payload.size() + 1);
  const std::size_t start = out.size();
  out.resize(start + kRecordHeaderBytes + length);
  char* p = out.data() + start;
  put_u32(p, length);
  put_u32(p + 4, crc ^ seal);
  p[8] = static_cast<char>(type);
  if (!payload.empty()) std::memcpy(p + 9, payload.data(), payload.size());
}

std::string encode_batch_payload(const std::vector<std::pair<RecordType, std::string>>& records) {
  std::size_t total = 0;
  for (const auto& [type, body] : records) total += kBatchEntryHeaderBytes + body.size();
  std::string out;
  out.reserve(total);
  for (const auto& [type, body] : records) {
    FERRY_ASSERT(type != RecordType::kBatch);  // batches do not nest
    FERRY_ASSERT(body.size() <= kMaxRecordLength);
    char head[kBatchEntryHeaderBytes];
    head[0] = static_cast<char>(type);
    put_u32(head + 1, static_cast<std::uint32_t>(body.size()));
    out.append(head, sizeof head);
    out.append(body);
  }
  return out;
}

std::string encode_segment_header(SegmentId id) {
  std::string h(kSegmentHeaderBytes, '\0');
  std::memcpy(h.data(), kSegmentMagic, sizeof kSegmentMagic);
  put_u32(h.data() + 8, kFormatVersion);
  put_u64(h.data() + 12, id.value);
  put_u32(h.data() + kSegmentHeaderCrcOffset,
          crc32c::mask(crc32c::value(h.data(), kSegmentHeaderCrcOffset)));
  return h;
}

bool check_segment_header(std::span<const char> data, SegmentId id, std::string& why,
                          std::uint32_t* version) {
  if (data.size() < kSegmentHeaderBytes) {
    why = "segment header incomplete";
    return false;
  }
  if (std::memcmp(data.data(), kSegmentMagic, sizeof kSegmentMagic) != 0) {
    why = "bad segment magic";
    return false;
  }
  if (crc32c::unmask(get_u32(data.data() + kSegmentHeaderCrcOffset)) !=
      crc32c::value(data.data(), kSegmentHeaderCrcOffset)) {
    why = "segment header checksum mismatch";
    return false;
  }
  const std::uint32_t v = get_u32(data.data() + 8);
  if (v < 1 || v > kFormatVersion) {
    why = "unsupported segment format version " + std::to_string(v);
    return false;
  }
  if (get_u64(data.data() + 12) != id.value) {
    why = "segment header names segment " + std::to_string(get_u64(data.data() + 12));
    return false;
  }
  if (version != nullptr) *version = v;
  return true;
}

bool is_known_type(std::uint8_t type) {
  return type >= static_cast<std::uint8_t>(RecordType::kMessage) &&
         type <= static_cast<std::uint8_t>(RecordType::kCheckpoint);
}

bool for_each_batch_entry(std::span<const char> payload,
                          const std::function<void(RecordType, std::span<const char>)>& visit) {
  // Validate the whole batch first: a batch is all or nothing.
  std::size_t pos = 0;
  while (pos < payload.size()) {
    if (payload.size() - pos < kBatchEntryHeaderBytes) return false;
    const auto type = static_cast<std::uint8_t>(payload[pos]);
    const std::uint32_t len = get_u32(payload.data() + pos + 1);
    if (!is_known_type(type) || type == static_cast<std::uint8_t>(RecordType::kBatch)) {
      return false;
    }
    if (payload.size() - pos - kBatchEntryHeaderBytes < len) return false;
    pos += kBatchEntryHeaderBytes + len;
  }
  if (!visit) return true;
  pos = 0;
  while (pos < payload.size()) {
    const auto type = static_cast<RecordType>(payload[pos]);
    const std::uint32_t len = get_u32(payload.data() + pos + 1);
    visit(type, payload.subspan(pos + kBatchEntryHeaderBytes, len));
    pos += kBatchEntryHeaderBytes + len;
  }
  return true;
}

bool parse_record(std::span<const char> data, std::uint64_t offset, RecordView& out,
                  std::string& why, std::uint32_t seal) {
  if (offset > data.size() || data.size() - offset < kRecordHeaderBytes) {
    why = "record header incomplete";
    return false;
  }
  const char* p = data.data() + offset;
  const std::uint32_t length = get_u32(p);
  if (length == 0 || length > kMaxRecordLength) {
    why = "bad record length " + std::to_string(length);
    return false;
  }
  if (data.size() - offset - kRecordHeaderBytes < length) {
    why = "record incomplete (length " + std::to_string(length) + ")";
    return false;
  }
  // Cheap tests before the CRC: resynchronization calls this at every offset.
  const auto type = static_cast<std::uint8_t>(p[8]);
  if (!is_known_type(type)) {
    why = "unknown record type " + std::to_string(type);
    return false;
  }
  if (crc32c::unmask(get_u32(p + 4) ^ seal) != crc32c::value(p + 8, length)) {
    why = "checksum mismatch";
    return false;
  }
  std::span<const char> payload(p + 9, length - 1);
  if (type == static_cast<std::uint8_t>(RecordType::kBatch) && !for_each_batch_entry(payload, {})) {
    why = "malformed batch";
    return false;
  }
  out = RecordView{static_cast<RecordType>(type), payload, offset, kRecordHeaderBytes + length};
  return true;
}

}  // namespace ferry::store
