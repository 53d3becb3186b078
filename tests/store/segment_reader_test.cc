// The recovery rules over bytes in memory (docs/journal.md "Recovery"):
// exhaustive tears and bit flips are cheap here.
#include "store/segment_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/crc32c.h"
#include "store/record_codec.h"
#include "store/record_format.h"

namespace ferry::store {
namespace {

const SegmentId kSeg{7};
const std::uint32_t kSeal = record_seal(kSeg);

struct Built {
  std::string data;
  std::vector<std::uint64_t> offsets;  // of each record
};

Built build(const std::vector<std::string>& payloads) {
  Built b{encode_segment_header(kSeg), {}};
  for (const auto& p : payloads) {
    b.offsets.push_back(b.data.size());
    encode_record(b.data, RecordType::kMessage, std::span<const char>(p.data(), p.size()), kSeal);
  }
  return b;
}

std::vector<std::string> payloads_of(std::span<const char> data, SegmentScan* out = nullptr) {
  std::vector<std::string> seen;
  SegmentScan s = scan_segment(data, kSeg, [&](const RecordView& r) {
    seen.emplace_back(r.payload.data(), r.payload.size());
  });
  if (out) *out = s;
  return seen;
}

const std::vector<std::string> kPayloads = {"alpha", "", "gamma gamma", "delta-delta-delta",
                                            "the last record"};

TEST(SegmentReader, ReadsEveryRecord) {
  Built b = build(kPayloads);
  SegmentScan s;
  EXPECT_EQ(payloads_of(b.data, &s), kPayloads);
  EXPECT_FALSE(s.tail);
  EXPECT_TRUE(s.middle.empty());
  EXPECT_EQ(s.valid_end, b.data.size());
  EXPECT_EQ(s.records, kPayloads.size());
}

TEST(SegmentReader, TornAtEveryOffsetKeepsEveryWholeRecord) {
  Built b = build(kPayloads);
  for (std::size_t cut = format::kSegmentHeaderBytes; cut < b.data.size(); ++cut) {
    std::size_t whole = 0;
    while (whole < b.offsets.size() &&
           (whole + 1 < b.offsets.size() ? b.offsets[whole + 1] : b.data.size()) <= cut) {
      ++whole;
    }
    SegmentScan s;
    auto seen = payloads_of(std::span<const char>(b.data.data(), cut), &s);
    ASSERT_EQ(seen, std::vector<std::string>(kPayloads.begin(), kPayloads.begin() + whole))
        << "cut at " << cut;
    EXPECT_TRUE(s.middle.empty()) << cut;
    const std::uint64_t end = whole == 0                  ? format::kSegmentHeaderBytes
                              : whole < b.offsets.size() ? b.offsets[whole]
                                                         : b.data.size();
    EXPECT_EQ(s.valid_end, end) << cut;
    EXPECT_EQ(s.tail.has_value(), cut != end) << cut;
  }
}

TEST(SegmentReader, EveryBitFlipInTheLastRecordIsATail) {
  Built b = build(kPayloads);
  const std::uint64_t last = b.offsets.back();
  for (std::size_t i = last; i < b.data.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string d = b.data;
      d[i] = static_cast<char>(d[i] ^ (1 << bit));
      SegmentScan s;
      auto seen = payloads_of(d, &s);
      ASSERT_EQ(seen, std::vector<std::string>(kPayloads.begin(), kPayloads.end() - 1))
          << "byte " << i << " bit " << bit;
      ASSERT_TRUE(s.tail);
      EXPECT_EQ(s.tail->offset, last);
      EXPECT_EQ(s.tail->bytes, b.data.size() - last);
      EXPECT_TRUE(s.middle.empty());
    }
  }
}

TEST(SegmentReader, EveryBitFlipInAMiddleRecordIsAMiddleRegion) {
  Built b = build(kPayloads);
  const std::uint64_t at = b.offsets[2];
  const std::uint64_t next = b.offsets[3];
  for (std::size_t i = at; i < next; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string d = b.data;
      d[i] = static_cast<char>(d[i] ^ (1 << bit));
      SegmentScan s;
      auto seen = payloads_of(d, &s);
      std::vector<std::string> expect = kPayloads;
      expect.erase(expect.begin() + 2);
      ASSERT_EQ(seen, expect) << "byte " << i << " bit " << bit;
      ASSERT_EQ(s.middle.size(), 1u);
      EXPECT_EQ(s.middle[0].offset, at);
      EXPECT_EQ(s.middle[0].bytes, next - at);
      EXPECT_FALSE(s.tail);
    }
  }
}

// A block of `garbage` bytes between two valid records, then the scan: the
// block is one middle region, both records are found, and resynchronization
// ran at most a few times the block's size through the CRC.
void expect_linear_resync(const std::string& garbage) {
  Built b = build({"before"});
  b.data += garbage;
  const std::uint64_t after_at = b.data.size();
  const std::string after(5000, 'z');  // long enough for the swept path
  encode_record(b.data, RecordType::kMessage, std::span<const char>(after.data(), after.size()), kSeal);
  SegmentScan s;
  auto seen = payloads_of(b.data, &s);
  ASSERT_EQ(seen, (std::vector<std::string>{"before", after}));
  ASSERT_EQ(s.middle.size(), 1u);
  EXPECT_EQ(s.middle[0].offset, after_at - garbage.size());
  EXPECT_EQ(s.middle[0].bytes, garbage.size());
  EXPECT_FALSE(s.tail);
  EXPECT_LE(s.resync_crc_bytes, 4 * b.data.size()) << "resynchronization is not linear";
}

TEST(SegmentReader, ResyncOverRandomGarbageIsLinear) {
  // 8 MiB of random bytes: trying each offset's claimed length directly
  // would CRC about a gigabyte here (and the cube of the size in general).
  std::string garbage(8u << 20, '\0');
  std::uint64_t x = 88172645463325252ull;
  for (char& c : garbage) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  expect_linear_resync(garbage);
}

TEST(SegmentReader, ResyncOverHeaderLookalikesIsLinear) {
  // "01 00 02 00" repeated: every other offset reads as a plausible record
  // header (length 65538 or 131073, type 1 or 2) whose CRC fails.
  std::string garbage;
  for (int i = 0; i < (1 << 20); ++i) garbage += std::string("\x01\x00\x02\x00", 4);
  expect_linear_resync(garbage);
}

TEST(SegmentReader, ResyncOverGarbageTailIsLinear) {
  Built b = build({"only"});
  const std::uint64_t tail_at = b.data.size();
  for (int i = 0; i < (1 << 20); ++i) b.data += std::string("\x01\x00\x02\x00", 4);
  SegmentScan s;
  EXPECT_EQ(payloads_of(b.data, &s), std::vector<std::string>{"only"});
  ASSERT_TRUE(s.tail);
  EXPECT_EQ(s.tail->offset, tail_at);
  EXPECT_LE(s.resync_crc_bytes, 4 * b.data.size());
}

TEST(SegmentReader, EmptyFileIsAnEmptySegment) {
  SegmentScan s;
  EXPECT_TRUE(payloads_of({}, &s).empty());
  EXPECT_FALSE(s.tail);
  EXPECT_TRUE(s.middle.empty());
  EXPECT_EQ(s.valid_end, 0u);
}

TEST(SegmentReader, BadHeaderAloneIsATailAtZero) {
  std::string d = encode_segment_header(kSeg);
  d[3] ^= 1;
  SegmentScan s;
  EXPECT_TRUE(payloads_of(d, &s).empty());
  ASSERT_TRUE(s.tail);
  EXPECT_EQ(s.tail->offset, 0u);
  EXPECT_EQ(s.valid_end, 0u);
  // A header naming another segment is as bad.
  std::string why;
  EXPECT_FALSE(check_segment_header(encode_segment_header(SegmentId{8}), kSeg, why));
  EXPECT_NE(why.find("names segment 8"), std::string::npos);
}

TEST(SegmentReader, BatchIsAllOrNothing) {
  std::vector<std::pair<RecordType, std::string>> entries = {
      {RecordType::kMessage, "m1"}, {RecordType::kAck, "a1"}, {RecordType::kMessage, ""}};
  const std::string payload = encode_batch_payload(entries);
  std::string d = encode_segment_header(kSeg);
  encode_record(d, RecordType::kMessage, std::span<const char>("before", 6), kSeal);
  const std::size_t batch_at = d.size();
  encode_record(d, RecordType::kBatch, std::span<const char>(payload.data(), payload.size()), kSeal);
  for (std::size_t cut = batch_at; cut <= d.size(); ++cut) {
    std::vector<std::pair<RecordType, std::string>> seen;
    scan_segment(std::span<const char>(d.data(), cut), kSeg, [&](const RecordView& r) {
      if (r.type == RecordType::kBatch) {
        EXPECT_TRUE(for_each_batch_entry(r.payload, [&](RecordType t, std::span<const char> p) {
          seen.emplace_back(t, std::string(p.data(), p.size()));
        }));
      } else {
        seen.emplace_back(r.type, std::string(r.payload.data(), r.payload.size()));
      }
    });
    if (cut == d.size()) {
      ASSERT_EQ(seen.size(), 4u);
      EXPECT_EQ(seen[1], entries[0]);
      EXPECT_EQ(seen[3], entries[2]);
    } else {
      ASSERT_EQ(seen.size(), 1u) << "cut " << cut;
    }
  }
}

TEST(RecordCodec, MalformedBatchIsInvalidEvenWithGoodCrc) {
  std::string bad_payload = "\x01\x09\x00\x00\x00short";  // entry claims 9 bytes, has 5
  std::string d = encode_segment_header(kSeg);
  encode_record(d, RecordType::kBatch, std::span<const char>(bad_payload.data(), bad_payload.size()), kSeal);
  RecordView r{};
  std::string why;
  EXPECT_FALSE(parse_record(d, format::kSegmentHeaderBytes, r, why, kSeal));
  EXPECT_EQ(why, "malformed batch");
}

TEST(RecordCodec, LayoutMatchesTheDoc) {
  std::string d;
  encode_record(d, RecordType::kAck, std::span<const char>("xy", 2), 0);
  ASSERT_EQ(d.size(), 8u + 1 + 2);
  EXPECT_EQ(format::get_u32(d.data()), 3u);  // type + payload
  EXPECT_EQ(d[8], 2);
  EXPECT_EQ(d.substr(9), "xy");
  std::string h = encode_segment_header(SegmentId{0x0102});
  EXPECT_EQ(h.substr(0, 8), "FERRYJ01");
  EXPECT_EQ(format::get_u32(h.data() + 8), 2u);
  EXPECT_EQ(h[12], 0x02);
  EXPECT_EQ(h[13], 0x01);
}

// Sealed records (format version 2): a record is valid only in the segment
// it was written for, so a recycled file's old records are never replayed.
TEST(RecordCodec, SealIsTheSegmentsAndChangesTheStoredCrcOnly) {
  std::string plain, sealed;
  encode_record(plain, RecordType::kAck, std::span<const char>("xy", 2), 0);
  encode_record(sealed, RecordType::kAck, std::span<const char>("xy", 2), kSeal);
  EXPECT_EQ(format::get_u32(plain.data() + 4) ^ format::get_u32(sealed.data() + 4), kSeal);
  EXPECT_EQ(plain.substr(8), sealed.substr(8));
  reseal_record(plain.data(), kSeal);
  EXPECT_EQ(plain, sealed);
  EXPECT_NE(record_seal(SegmentId{1}), 0u);
  EXPECT_NE(record_seal(SegmentId{1}), record_seal(SegmentId{2}));
  RecordView r{};
  std::string why;
  EXPECT_TRUE(parse_record(sealed, 0, r, why, kSeal));
  EXPECT_FALSE(parse_record(sealed, 0, r, why, record_seal(SegmentId{8})));
  EXPECT_EQ(why, "checksum mismatch");
  EXPECT_FALSE(parse_record(sealed, 0, r, why, 0));
}

TEST(RecordCodec, SealedForNamesTheSegmentARecordWasWrittenFor) {
  std::string d;
  encode_record(d, RecordType::kMessage, std::span<const char>("old", 3), record_seal(SegmentId{3}));
  ASSERT_TRUE(sealed_for(d, 0));
  EXPECT_EQ(sealed_for(d, 0)->value, 3u);
  std::string plain;
  encode_record(plain, RecordType::kMessage, std::span<const char>("v1", 2), 0);
  EXPECT_FALSE(sealed_for(plain, 0));  // unsealed
  d[10] ^= 1;
  EXPECT_NE(sealed_for(d, 0).value_or(SegmentId{3}).value, 3u);  // a flipped bit is no old record
  EXPECT_FALSE(sealed_for(std::string("garbage!garbage!"), 0));
}

TEST(SegmentReader, AnotherSegmentsRecordsAfterTheEndAreATail) {
  // A recycled file: segment 7's records over what segment 3 wrote before.
  const SegmentId old_id{3};
  std::string old = encode_segment_header(old_id);
  for (int i = 0; i < 20; ++i) {
    const std::string p = "old record " + std::to_string(i);
    encode_record(old, RecordType::kMessage, std::span<const char>(p.data(), p.size()), record_seal(old_id));
  }
  Built b = build({"new one", "new two"});
  ASSERT_LT(b.data.size(), old.size());
  std::string file = b.data + old.substr(b.data.size());
  SegmentScan s;
  EXPECT_EQ(payloads_of(file, &s), (std::vector<std::string>{"new one", "new two"}));
  EXPECT_TRUE(s.middle.empty());
  ASSERT_TRUE(s.tail);
  EXPECT_EQ(s.valid_end, b.data.size());
  // Renamed but not yet written: the old header names another segment, and
  // none of its records counts.
  EXPECT_TRUE(payloads_of(old, &s).empty());
  ASSERT_TRUE(s.tail);
  EXPECT_EQ(s.valid_end, 0u);
}

TEST(SegmentReader, VersionOneSegmentsReadUnsealed) {
  std::string d = encode_segment_header(kSeg);
  format::put_u32(d.data() + 8, 1);
  format::put_u32(d.data() + format::kSegmentHeaderCrcOffset,
                  crc32c::mask(crc32c::value(d.data(), format::kSegmentHeaderCrcOffset)));
  encode_record(d, RecordType::kMessage, std::span<const char>("v1", 2), 0);
  EXPECT_EQ(read_seal(d, kSeg), 0u);
  EXPECT_EQ(payloads_of(d), (std::vector<std::string>{"v1"}));
  // A sealed record in a version-1 segment is not one of its records.
  encode_record(d, RecordType::kMessage, std::span<const char>("v2", 2), kSeal);
  SegmentScan s;
  EXPECT_EQ(payloads_of(d, &s), (std::vector<std::string>{"v1"}));
  EXPECT_TRUE(s.tail);
  format::put_u32(d.data() + 8, 3);
  format::put_u32(d.data() + format::kSegmentHeaderCrcOffset,
                  crc32c::mask(crc32c::value(d.data(), format::kSegmentHeaderCrcOffset)));
  std::string why;
  EXPECT_FALSE(check_segment_header(d, kSeg, why));
  EXPECT_NE(why.find("unsupported segment format version 3"), std::string::npos);
}

}  // namespace
}  // namespace ferry::store
