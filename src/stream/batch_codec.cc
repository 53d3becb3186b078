#include "stream/batch_codec.h"

#include "common/assert.h"
#include "store/crc32c.h"
#include "store/record_format.h"

namespace ferry::stream {

using store::format::get_u32;
using store::format::get_u64;
using store::format::put_u32;
using store::format::put_u64;
using namespace format;

namespace {

void put_i64(char* p, std::int64_t v) { put_u64(p, static_cast<std::uint64_t>(v)); }
std::int64_t get_i64(const char* p) { return static_cast<std::int64_t>(get_u64(p)); }

void append_u32(std::string& out, std::uint32_t v) {
  char b[4];
  put_u32(b, v);
  out.append(b, 4);
}
void append_str(std::string& out, std::string_view s) {
  append_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

// A bounded cursor over an entry's bytes: every read checks what is left.
struct Cursor {
  const char* p;
  std::size_t left;
  bool u32(std::uint32_t& v) {
    if (left < 4) return false;
    v = get_u32(p);
    p += 4;
    left -= 4;
    return true;
  }
  bool str(std::string_view& s) {
    std::uint32_t n = 0;
    if (!u32(n) || left < n) return false;
    s = std::string_view(p, n);
    p += n;
    left -= n;
    return true;
  }
};

}  // namespace

std::uint64_t encoded_entry_bytes(const StreamEntry& e) {
  std::uint64_t n = kEntryMinBytes + e.body.size();
  if (e.key) n += e.key->size();
  for (const auto& [name, value] : e.headers) n += 8 + name.size() + value.size();
  return n;
}

std::uint32_t batch_crc(std::span<const char> batch) {
  return store::crc32c::mask(
      store::crc32c::value(batch.data() + kBatchPrefixBytes, batch.size() - kBatchPrefixBytes));
}

std::int64_t encode_batch(std::string& out, std::span<const StreamEntry> entries, StreamOffset base,
                          std::int64_t now_ms, std::int64_t floor_ms, std::uint32_t epoch) {
  FERRY_ASSERT(!entries.empty());
  const std::size_t start = out.size();
  out.resize(start + kBatchHeaderBytes);
  std::int64_t ts = floor_ms;
  std::int64_t first = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const StreamEntry& e = entries[i];
    const std::int64_t own = e.timestamp_ms != 0 ? e.timestamp_ms : now_ms;
    if (own > ts) ts = own;
    if (i == 0) first = ts;
    const std::uint64_t n = encoded_entry_bytes(e) - kEntryLengthBytes;
    FERRY_ASSERT(n < (1ull << 32));
    append_u32(out, static_cast<std::uint32_t>(n));
    char t[8];
    put_i64(t, ts);
    out.append(t, 8);
    out.push_back(static_cast<char>(e.key ? kEntryHasKey : 0));
    append_str(out, e.key ? std::string_view(*e.key) : std::string_view());
    append_u32(out, static_cast<std::uint32_t>(e.headers.size()));
    for (const auto& [name, value] : e.headers) {
      append_str(out, name);
      append_str(out, value);
    }
    append_str(out, e.body);
  }
  const std::uint64_t size = out.size() - start;
  FERRY_ASSERT(size < (1ull << 32));
  char* h = out.data() + start;
  put_u32(h, static_cast<std::uint32_t>(size - kBatchPrefixBytes));
  put_u64(h + 8, base.value);
  put_u32(h + 16, static_cast<std::uint32_t>(entries.size()));
  put_u32(h + 20, 0);
  put_i64(h + 24, first);
  put_i64(h + 32, ts);
  put_u32(h + 40, epoch);
  put_u32(h + 44, 0);
  put_u32(h + 4, batch_crc(std::span<const char>(h, size)));
  return ts;
}

void encode_hole(std::string& out, StreamOffset base, std::uint32_t count, std::int64_t first_ms,
                 std::int64_t last_ms, std::uint32_t epoch) {
  FERRY_ASSERT(count > 0 && first_ms <= last_ms);
  const std::size_t start = out.size();
  out.resize(start + kBatchHeaderBytes);
  char* h = out.data() + start;
  put_u32(h, static_cast<std::uint32_t>(kBatchHeaderBytes - kBatchPrefixBytes));
  put_u64(h + 8, base.value);
  put_u32(h + 16, count);
  put_u32(h + 20, kBatchHole);
  put_i64(h + 24, first_ms);
  put_i64(h + 32, last_ms);
  put_u32(h + 40, epoch);
  put_u32(h + 44, 0);
  put_u32(h + 4, batch_crc(std::span<const char>(h, kBatchHeaderBytes)));
}

bool parse_batch_header(std::span<const char> bytes, std::uint32_t max_batch_bytes, BatchHeader& out,
                        std::string& why) {
  if (bytes.size() < kBatchHeaderBytes) {
    why = "short batch header (" + std::to_string(bytes.size()) + " bytes)";
    return false;
  }
  const char* h = bytes.data();
  const std::uint64_t size = kBatchPrefixBytes + std::uint64_t{get_u32(h)};
  out.base = StreamOffset{get_u64(h + 8)};
  out.count = get_u32(h + 16);
  out.attributes = get_u32(h + 20);
  out.first_timestamp = get_i64(h + 24);
  out.last_timestamp = get_i64(h + 32);
  out.epoch = get_u32(h + 40);
  out.size = size;
  // A hole (compaction's removed entries) is the header alone.
  const bool hole = out.attributes == kBatchHole;
  if ((hole ? size != kBatchHeaderBytes : size < kBatchHeaderBytes + kEntryMinBytes) || size > max_batch_bytes) {
    why = "bad batch length " + std::to_string(size);
    return false;
  }
  if (out.count == 0 || (!hole && out.count > (size - kBatchHeaderBytes) / kEntryMinBytes)) {
    why = "bad entry count " + std::to_string(out.count);
    return false;
  }
  if (out.attributes != 0 && !hole) {
    // Compression (bits 0..2) is reserved for zstd/lz4; nothing writes it yet.
    why = "unsupported batch attributes " + std::to_string(out.attributes);
    return false;
  }
  if (get_u32(h + 44) != 0) {
    why = "reserved batch header bytes are not zero";
    return false;
  }
  if (out.first_timestamp > out.last_timestamp) {
    why = "first timestamp after last";
    return false;
  }
  if (out.base.value > UINT64_MAX - out.count) {
    why = "offset overflow";
    return false;
  }
  return true;
}

namespace {

// Decodes the entry at c (its length field first); false when malformed.
bool decode_entry(Cursor& c, EntryView& e) {
  std::uint32_t n = 0;
  if (!c.u32(n) || c.left < n) return false;
  Cursor in{c.p, n};
  c.p += n;
  c.left -= n;
  if (in.left < 8 + 1) return false;
  e.timestamp_ms = get_i64(in.p);
  const auto flags = static_cast<std::uint8_t>(in.p[8]);
  in.p += 9;
  in.left -= 9;
  if ((flags & ~kEntryHasKey) != 0) return false;
  std::string_view key;
  if (!in.str(key)) return false;
  if (flags & kEntryHasKey) {
    e.key = key;
  } else {
    if (!key.empty()) return false;
    e.key.reset();
  }
  std::uint32_t headers = 0;
  if (!in.u32(headers) || headers > in.left / 8) return false;
  e.headers.clear();
  for (std::uint32_t i = 0; i < headers; ++i) {
    std::string_view name, value;
    if (!in.str(name) || !in.str(value)) return false;
    e.headers.emplace_back(name, value);
  }
  if (!in.str(e.body)) return false;
  return in.left == 0;  // the fields fill the entry exactly
}

}  // namespace

bool for_each_entry(std::span<const char> batch, const BatchHeader& header,
                    const std::function<bool(const EntryView&)>& visit) {
  if (batch.size() < header.size || header.size < kBatchHeaderBytes) return false;
  if (header.hole()) return header.size == kBatchHeaderBytes;  // no entries: compacted away
  Cursor c{batch.data() + kBatchHeaderBytes, static_cast<std::size_t>(header.size - kBatchHeaderBytes)};
  EntryView e;
  for (std::uint32_t i = 0; i < header.count; ++i) {
    if (!decode_entry(c, e)) return false;
    e.offset = StreamOffset{header.base.value + i};
    if (visit && !visit(e)) return true;
  }
  return c.left == 0;
}

bool check_batch(std::span<const char> bytes, std::uint32_t max_batch_bytes, BatchHeader& out,
                 std::string& why) {
  if (!parse_batch_header(bytes, max_batch_bytes, out, why)) return false;
  if (bytes.size() < out.size) {
    why = "short batch (" + std::to_string(bytes.size()) + " of " + std::to_string(out.size) + " bytes)";
    return false;
  }
  const auto batch = bytes.first(static_cast<std::size_t>(out.size));
  if (batch_crc(batch) != get_u32(batch.data() + 4)) {
    why = "batch CRC mismatch";
    return false;
  }
  if (out.hole()) return true;  // parse_batch_header checked all a hole has
  // The CRC passed, so a mismatch below is a writer's bug or a forged batch;
  // recovery treats it as corruption all the same.
  std::uint32_t seen = 0;
  std::int64_t prev = out.first_timestamp;
  bool order = true;
  const bool whole = for_each_entry(batch, out, [&](const EntryView& e) {
    if (seen == 0 ? e.timestamp_ms != out.first_timestamp : e.timestamp_ms < prev) order = false;
    prev = e.timestamp_ms;
    ++seen;
    return true;
  });
  if (!whole || seen != out.count) {
    why = "malformed entries";
    return false;
  }
  if (!order || prev != out.last_timestamp) {
    why = "entry timestamps disagree with the batch header";
    return false;
  }
  return true;
}

}  // namespace ferry::stream
