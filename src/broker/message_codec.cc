#include "broker/message_codec.h"
#include "broker/schedule.h"

#include <cstring>

namespace ferry::broker {

namespace {

// Little-endian fixed-width integers and u32-length-prefixed strings.
class Writer {
 public:
  // Writes into `out`, after clearing it (its capacity is reused).
  explicit Writer(std::string& out) : out_(out) { out_.clear(); }
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void str(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }

 private:
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u8(std::uint8_t& v) {
    if (in_.size() < 1) return false;
    v = static_cast<std::uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool u32(std::uint32_t& v) {
    if (in_.size() < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v |= std::uint32_t{static_cast<std::uint8_t>(in_[i])} << (8 * i);
    in_.remove_prefix(4);
    return true;
  }
  bool u64(std::uint64_t& v) {
    if (in_.size() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v |= std::uint64_t{static_cast<std::uint8_t>(in_[i])} << (8 * i);
    in_.remove_prefix(8);
    return true;
  }
  bool str(std::string& s) {
    std::uint32_t n = 0;
    if (!u32(n) || in_.size() < n) return false;
    s.assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

constexpr std::uint8_t kMessageFormat = 1;

}  // namespace

std::string encode_message_record(std::string_view queue, const Message& m, std::uint32_t deliveries,
                                  std::uint64_t stamp) {
  std::string out;
  encode_message_record(out, queue, m, deliveries, stamp);
  return out;
}

void encode_message_record(std::string& out, std::string_view queue, const Message& m,
                           std::uint32_t deliveries, std::uint64_t stamp) {
  Writer w(out);
  w.u8(kMessageFormat);
  w.str(queue);
  w.u64(stamp);
  w.u64(m.id.value);
  w.str(m.id_text);
  w.str(m.destination);
  w.u8(m.priority);
  w.u64(static_cast<std::uint64_t>(m.expires_ms));
  w.u8(m.persistent ? 1 : 0);
  w.u32(deliveries);
  w.u32(static_cast<std::uint32_t>(m.headers.size()));
  for (const auto& [k, v] : m.headers) {
    w.str(k);
    w.str(v);
  }
  w.str(m.body);
}

std::optional<MessageRecord> decode_message_record(std::string_view payload) {
  Reader r(payload);
  MessageRecord rec;
  std::uint8_t format = 0, persistent = 0;
  std::uint64_t id = 0, expires = 0;
  std::uint32_t headers = 0;
  if (!r.u8(format) || format != kMessageFormat) return std::nullopt;
  if (!r.str(rec.queue) || !r.u64(rec.stamp) || !r.u64(id) || !r.str(rec.message.id_text) ||
      !r.str(rec.message.destination) || !r.u8(rec.message.priority) || !r.u64(expires) ||
      !r.u8(persistent) || !r.u32(rec.deliveries) || !r.u32(headers))
    return std::nullopt;
  rec.message.id = MessageId(id);
  rec.message.expires_ms = static_cast<std::int64_t>(expires);
  rec.message.persistent = persistent != 0;
  if (headers > payload.size()) return std::nullopt;  // each header takes >= 8 bytes
  rec.message.headers.reserve(headers);
  for (std::uint32_t i = 0; i < headers; ++i) {
    std::string k, v;
    if (!r.str(k) || !r.str(v)) return std::nullopt;
    rec.message.headers.emplace_back(std::move(k), std::move(v));
  }
  if (!r.str(rec.message.body) || !r.done()) return std::nullopt;
  // A scheduled message's due time travels as its deliver-at header.
  rec.message.deliver_at_ms = deliver_at_of(rec.message.headers);
  return rec;
}

std::string encode_message_ref(std::string_view queue, MessageId id, std::uint32_t deliveries) {
  std::string out;
  encode_message_ref(out, queue, id, deliveries);
  return out;
}

void encode_message_ref(std::string& out, std::string_view queue, MessageId id, std::uint32_t deliveries) {
  Writer w(out);
  w.str(queue);
  w.u64(id.value);
  w.u32(deliveries);
}

std::optional<MessageRefRecord> decode_message_ref(std::string_view payload) {
  Reader r(payload);
  MessageRefRecord rec;
  std::uint64_t id = 0;
  if (!r.str(rec.queue) || !r.u64(id) || !r.u32(rec.deliveries) || !r.done()) return std::nullopt;
  rec.id = MessageId(id);
  return rec;
}

}  // namespace ferry::broker
