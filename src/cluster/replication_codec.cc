#include "cluster/replication_codec.h"

#include <cstring>

#include "common/assert.h"

namespace ferry::cluster {

namespace {

constexpr std::uint8_t kFetchRequest = 1;
constexpr std::uint8_t kFetchResponse = 2;

void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }
void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_i64(std::string& out, std::int64_t v) { put_u64(out, static_cast<std::uint64_t>(v)); }
void put_name(std::string& out, const std::string& s) {
  FERRY_ASSERT(s.size() <= kMaxNameBytes);
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out += s;
}
void put_bytes(std::string& out, const std::string& s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out += s;
}

// Reads a frame's body; every read checks what is left, so a short or lying
// body is an error, never a read past it.
class Reader {
 public:
  explicit Reader(std::span<const char> b) : b_(b) {}
  bool ok() const { return ok_; }
  bool done() const { return pos_ == b_.size(); }
  std::uint64_t uint(int bytes) {
    if (!need(bytes)) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= std::uint64_t(static_cast<unsigned char>(b_[pos_ + i])) << (8 * i);
    pos_ += bytes;
    return v;
  }
  std::int64_t i64() { return static_cast<std::int64_t>(uint(8)); }
  std::string bytes(std::size_t max) {
    std::size_t n = uint(4);
    if (n > max || !need(n)) {
      ok_ = false;
      return {};
    }
    std::string s(b_.data() + pos_, n);
    pos_ += n;
    return s;
  }

 private:
  bool need(std::size_t n) {
    if (!ok_ || b_.size() - pos_ < n) ok_ = false;
    return ok_;
  }
  std::span<const char> b_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace

void encode(const WireMessage& m, std::string& out) {
  std::size_t start = out.size();
  put_u32(out, 0);  // the length, set below
  if (const auto* r = std::get_if<FetchRequest>(&m.body)) {
    put_u8(out, kFetchRequest);
    put_name(out, m.log);
    put_name(out, r->follower);
    put_i64(out, r->leader_epoch.value);
    put_u64(out, r->id);
    put_i64(out, r->fetch_offset.value);
    put_i64(out, r->last_fetched_epoch.value);
  } else {
    const auto& p = std::get<FetchResponse>(m.body);
    put_u8(out, kFetchResponse);
    put_name(out, m.log);
    put_name(out, p.leader);
    put_i64(out, p.leader_epoch.value);
    put_u64(out, p.id);
    put_u8(out, static_cast<std::uint8_t>(p.kind));
    put_i64(out, p.fetch_offset.value);
    put_i64(out, p.high_watermark.value);
    put_i64(out, p.diverging_epoch.value);
    put_i64(out, p.diverging_end_offset.value);
    put_u32(out, static_cast<std::uint32_t>(p.records.size()));
    for (const LogEntry& e : p.records) {
      put_i64(out, e.epoch.value);
      put_bytes(out, e.payload);
    }
  }
  std::uint32_t length = static_cast<std::uint32_t>(out.size() - start - 4);
  for (int i = 0; i < 4; ++i) out[start + i] = static_cast<char>((length >> (8 * i)) & 0xff);
}

DecodeResult decode(std::span<const char> data, std::size_t max_frame_bytes) {
  DecodeResult r;
  if (data.size() < 4) return r;
  Reader head(data.first(4));
  std::size_t length = head.uint(4);
  if (length > max_frame_bytes) {
    r.status = DecodeResult::Status::kError;
    r.error = "frame of " + std::to_string(length) + " bytes over the limit of " + std::to_string(max_frame_bytes);
    return r;
  }
  if (data.size() - 4 < length) return r;
  Reader in(data.subspan(4, length));
  auto bad = [&](const char* what) {
    r.status = DecodeResult::Status::kError;
    r.error = what;
    return r;
  };
  std::uint8_t type = static_cast<std::uint8_t>(in.uint(1));
  r.message.log = in.bytes(kMaxNameBytes);
  if (type == kFetchRequest) {
    FetchRequest q;
    q.follower = in.bytes(kMaxNameBytes);
    q.leader_epoch = LeaderEpoch(in.i64());
    q.id = in.uint(8);
    q.fetch_offset = LogOffset(in.i64());
    q.last_fetched_epoch = LeaderEpoch(in.i64());
    r.message.body = std::move(q);
  } else if (type == kFetchResponse) {
    FetchResponse p;
    p.leader = in.bytes(kMaxNameBytes);
    p.leader_epoch = LeaderEpoch(in.i64());
    p.id = in.uint(8);
    std::uint64_t kind = in.uint(1);
    if (kind > static_cast<std::uint64_t>(FetchResponse::Kind::kFenced)) return bad("unknown fetch response kind");
    p.kind = static_cast<FetchResponse::Kind>(kind);
    p.fetch_offset = LogOffset(in.i64());
    p.high_watermark = LogOffset(in.i64());
    p.diverging_epoch = LeaderEpoch(in.i64());
    p.diverging_end_offset = LogOffset(in.i64());
    std::uint64_t count = in.uint(4);
    // Each record takes at least 12 bytes: a count beyond what the frame
    // can hold is a lie, refused before reserving for it.
    if (count > length / 12) return bad("record count over the frame's size");
    p.records.reserve(count);
    for (std::uint64_t i = 0; i < count && in.ok(); ++i) {
      LogEntry e;
      e.epoch = LeaderEpoch(in.i64());
      e.payload = in.bytes(length);
      p.records.push_back(std::move(e));
    }
    r.message.body = std::move(p);
  } else {
    return bad("unknown message type");
  }
  if (!in.ok()) return bad("frame shorter than its fields");
  if (!in.done()) return bad("bytes after the message's fields");
  r.status = DecodeResult::Status::kMessage;
  r.consumed = 4 + length;
  return r;
}

}  // namespace ferry::cluster
