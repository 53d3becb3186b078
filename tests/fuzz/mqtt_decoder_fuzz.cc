// libFuzzer target for mqtt::Decoder (and, through PUBLISH, the encoder).
//
// Input layout: 3 bytes of settings, then the byte stream.
//   [0]    bits 0-1: 0 = before CONNECT, 1 = MQTT 3.1.1, 2/3 = MQTT 5;
//          bit 2: a small maximum packet size ([1] + 2) instead of 1 MiB
//   [1]    the small maximum
//   [2]    seed for the random split
//
// The stream is fed three ways: whole, in random chunks, byte by byte. All
// must yield the same packets and the same error; every packet must respect
// the maximum size and point into the caller's buffer; a decoded PUBLISH
// re-encoded and decoded again must come back equal.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "mqtt/decoder.h"
#include "mqtt/encoder.h"
#include "mqtt/packet.h"
#include "mqtt/topic.h"
#include "mqtt/utf8.h"

namespace {

using namespace ferry::mqtt;

struct Outcome {
  std::vector<std::string> packets;  // variant index + the packet's bytes
  ReasonCode error = ReasonCode::kSuccess;
  bool operator==(const Outcome&) const = default;
};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "mqtt_decoder_fuzz: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

bool within(std::string_view v, const std::string& buf) {
  return v.empty() || (v.data() >= buf.data() && v.data() + v.size() <= buf.data() + buf.size());
}

void check_publish(const Publish& p, const std::string& buf, Level level) {
  check(within(p.topic, buf) && within(p.payload, buf), "PUBLISH view outside the buffer");
  check(valid_mqtt_utf8(p.topic), "PUBLISH topic not valid UTF-8");
  check(p.topic.empty() || check_topic_name(p.topic) == ReasonCode::kSuccess, "PUBLISH topic with a wildcard");
  check(p.qos <= 2 && (p.qos == 0) == (p.packet_id == 0), "PUBLISH QoS / packet id");
  std::string again;
  encode_publish(level, p, again);
  Decoder d(again.size());
  d.set_level(level);
  ClientPacket back;
  const Decoder::Result r = d.next(again, back);
  check(r.status == Decoder::Status::kPacket && r.consumed == again.size(), "re-encoded PUBLISH does not decode");
  check(std::get<Publish>(back) == p, "re-encoded PUBLISH decodes differently");
}

template <typename NextChunk>
Outcome run(std::string_view stream, std::optional<Level> level, std::size_t max, NextChunk next_chunk) {
  Decoder decoder(max);
  if (level) decoder.set_level(*level);
  Outcome out;
  std::string buf;
  std::size_t pos = 0;
  while (pos < stream.size()) {
    const std::size_t n = std::min(next_chunk(), stream.size() - pos);
    buf.append(stream.substr(pos, n));
    pos += n;
    for (;;) {
      ClientPacket packet;
      const Decoder::Result r = decoder.next(buf, packet);
      if (r.status == Decoder::Status::kError) {
        check(is_error(r.error), "error without an error code");
        check(!r.rule.empty(), "error without a rule");
        out.error = r.error;
        return out;
      }
      if (r.status == Decoder::Status::kNeedMore) break;
      check(r.consumed >= 2 && r.consumed <= buf.size(), "consumed out of range");
      check(r.consumed <= max, "maximum packet size not enforced");
      check(decoder.level().has_value(), "a packet without a level");
      if (const auto* p = std::get_if<Publish>(&packet)) check_publish(*p, buf, *decoder.level());
      if (const auto* c = std::get_if<Connect>(&packet)) {
        check(within(c->client_id, buf) && valid_mqtt_utf8(c->client_id), "CONNECT client id");
        check(!c->will || c->will->qos <= 2, "will QoS");
      }
      if (const auto* s = std::get_if<Subscribe>(&packet)) {
        check(!s->subscriptions.empty(), "SUBSCRIBE without filters");
        for (const Subscription& sub : s->subscriptions) {
          check(within(sub.filter, buf) && sub.options.qos <= 2 && sub.options.retain_handling <= 2, "subscription");
          TopicFilter f;
          (void)parse_topic_filter(sub.filter, f);  // any filter text: a code, never UB
        }
      }
      if (const auto* u = std::get_if<Unsubscribe>(&packet)) check(!u->filters.empty(), "UNSUBSCRIBE without filters");
      out.packets.push_back(std::to_string(packet.index()) + ":" + buf.substr(0, r.consumed));
      buf.erase(0, r.consumed);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  std::optional<Level> level;
  if ((data[0] & 3) == 1) level = Level::k3_1_1;
  if ((data[0] & 3) >= 2) level = Level::k5;
  const std::size_t max = (data[0] & 4) != 0 ? std::size_t{data[1]} + 2 : std::size_t{1} << 20;
  std::uint32_t seed = data[2] | 0x100u;
  const std::string_view stream(reinterpret_cast<const char*>(data + 3), size - 3);

  const Outcome whole = run(stream, level, max, [] { return SIZE_MAX; });
  const Outcome bytewise = run(stream, level, max, [] { return std::size_t{1}; });
  const Outcome random = run(stream, level, max, [&seed] {
    seed ^= seed << 13;  // xorshift32
    seed ^= seed >> 17;
    seed ^= seed << 5;
    return std::size_t{1} + seed % 24;
  });
  check(whole == bytewise, "whole and byte-by-byte decodes differ");
  check(whole == random, "whole and randomly split decodes differ");
  return 0;
}
