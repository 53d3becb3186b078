// The replication wire format (docs/cluster.md, "Wire format"): every
// message round-trips whole, byte by byte and split at every offset; bad
// frames are errors, never reads past the buffer.
#include "cluster/replication_codec.h"

#include <gtest/gtest.h>

namespace ferry::cluster {
namespace {

WireMessage request() {
  return WireMessage{"/stream/orders/0", FetchRequest{"b", LeaderEpoch(3), 42, LogOffset(1000), LeaderEpoch(2)}};
}

WireMessage response() {
  FetchResponse p;
  p.leader = "a";
  p.leader_epoch = LeaderEpoch(3);
  p.id = 42;
  p.kind = FetchResponse::Kind::kRecords;
  p.fetch_offset = LogOffset(1000);
  p.high_watermark = LogOffset(998);
  p.records = {LogEntry{LeaderEpoch(2), "x"}, LogEntry{LeaderEpoch(3), std::string("a\0b", 3)},
               LogEntry{LeaderEpoch(3), ""}};
  return WireMessage{"q", p};
}

WireMessage diverging() {
  FetchResponse p;
  p.leader = "a";
  p.leader_epoch = LeaderEpoch(5);
  p.id = 7;
  p.kind = FetchResponse::Kind::kDiverging;
  p.fetch_offset = LogOffset(12);
  p.diverging_epoch = LeaderEpoch(4);
  p.diverging_end_offset = LogOffset(9);
  return WireMessage{"q", p};
}

void expect_same(const WireMessage& a, const WireMessage& b) {
  EXPECT_EQ(a.log, b.log);
  EXPECT_EQ(a.body, b.body);
}

TEST(ReplicationCodec, RequestBytesAreAsDocumented) {
  std::string out;
  encode(WireMessage{"q", FetchRequest{"b", LeaderEpoch(3), 1, LogOffset(2), LeaderEpoch(1)}}, out);
  std::string expected("\x2b\x00\x00\x00"  // length 43
                       "\x01"              // fetch request
                       "\x01\x00\x00\x00q"
                       "\x01\x00\x00\x00"
                       "b"
                       "\x03\x00\x00\x00\x00\x00\x00\x00"
                       "\x01\x00\x00\x00\x00\x00\x00\x00"
                       "\x02\x00\x00\x00\x00\x00\x00\x00"
                       "\x01\x00\x00\x00\x00\x00\x00\x00",
                       47);
  EXPECT_EQ(out, expected);
}

TEST(ReplicationCodec, EveryMessageRoundTripsWholeAndSplitAtEveryOffset) {
  for (const WireMessage& m : {request(), response(), diverging()}) {
    std::string bytes;
    encode(m, bytes);
    encode(m, bytes);  // two in a row: the first consumes only its own
    DecodeResult whole = decode(bytes);
    ASSERT_EQ(whole.status, DecodeResult::Status::kMessage) << whole.error;
    EXPECT_EQ(whole.consumed, bytes.size() / 2);
    expect_same(whole.message, m);
    for (std::size_t cut = 0; cut < bytes.size() / 2; ++cut) {
      DecodeResult part = decode(std::span<const char>(bytes.data(), cut));
      EXPECT_EQ(part.status, DecodeResult::Status::kNeedMore) << "cut at " << cut;
    }
  }
}

TEST(ReplicationCodec, BadFramesAreErrors) {
  std::string bytes;
  encode(response(), bytes);
  // An announced length over the limit: refused before the bytes arrive.
  DecodeResult big = decode(std::span<const char>(bytes.data(), 4), 16);
  EXPECT_EQ(big.status, DecodeResult::Status::kError);
  // Each byte of the body changed in turn: never a crash or a read past the
  // frame; an error or some message.
  for (std::size_t i = 4; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0xff);
    DecodeResult r = decode(bad);
    EXPECT_NE(r.status, DecodeResult::Status::kNeedMore);
  }
  std::string unknown = bytes;
  unknown[4] = 9;
  EXPECT_EQ(decode(unknown).error, "unknown message type");
  // A frame one byte shorter than its fields say (length lowered by one).
  std::string shorter = bytes.substr(0, bytes.size() - 1);
  shorter[0] = static_cast<char>(shorter[0] - 1);
  EXPECT_EQ(decode(shorter).error, "frame shorter than its fields");
  std::string longer = bytes + "z";
  longer[0] = static_cast<char>(longer[0] + 1);
  EXPECT_EQ(decode(longer).error, "bytes after the message's fields");
}

}  // namespace
}  // namespace ferry::cluster
