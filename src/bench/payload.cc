#include "bench/payload.h"

#include <cstring>

#include "common/assert.h"

namespace ferry::bench {
namespace {

constexpr char kDigits[] = "0123456789abcdef";

char* put_hex(char* p, std::uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = kDigits[v & 0xf];
    v >>= 4;
  }
  return p + width;
}

bool get_hex(const char* p, int width, std::uint64_t& v) {
  std::uint64_t r = 0;
  for (int i = 0; i < width; ++i) {
    const char c = p[i];
    unsigned d;
    if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
    else return false;
    r = (r << 4) | d;
  }
  v = r;
  return true;
}

// Field offsets inside the header (see payload.h).
constexpr std::size_t kRunAt = 4, kProducerAt = 13, kSeqAt = 22, kSentAt = 39, kEolAt = 55;
static_assert(kEolAt + 1 == Payload::kHeaderSize);

}  // namespace

Payload::Payload(std::uint32_t run, std::size_t size) : run_(run), size_(size) {
  FERRY_ASSERT(size >= kHeaderSize);
  pattern_.resize(size - kHeaderSize + 26);
  for (std::size_t j = 0; j < pattern_.size(); ++j) pattern_[j] = static_cast<char>('a' + j % 26);
}

std::string_view Payload::padding(std::uint32_t producer, std::uint64_t seq) const {
  const std::uint64_t shift = (seq % 26 + 7 * (producer % 26) + kHeaderSize) % 26;
  return std::string_view(pattern_).substr(shift, size_ - kHeaderSize);
}

void Payload::append(std::string& out, std::uint32_t producer, std::uint64_t seq,
                     std::int64_t sent_ns) const {
  char h[kHeaderSize];
  std::memcpy(h, "FB1 ", 4);
  put_hex(h + kRunAt, run_, 8);
  h[kProducerAt - 1] = ' ';
  put_hex(h + kProducerAt, producer, 8);
  h[kSeqAt - 1] = ' ';
  put_hex(h + kSeqAt, seq, 16);
  h[kSentAt - 1] = ' ';
  put_hex(h + kSentAt, static_cast<std::uint64_t>(sent_ns), 16);
  h[kEolAt] = '\n';
  out.append(h, kHeaderSize);
  out.append(padding(producer, seq));
}

Payload::Check Payload::check(std::string_view body, Stamp& out) const {
  if (body.size() < kHeaderSize) return Check::kWrongSize;
  const char* h = body.data();
  std::uint64_t run, producer, seq, sent;
  if (std::memcmp(h, "FB1 ", 4) != 0 || h[kProducerAt - 1] != ' ' || h[kSeqAt - 1] != ' ' ||
      h[kSentAt - 1] != ' ' || h[kEolAt] != '\n' || !get_hex(h + kRunAt, 8, run) ||
      !get_hex(h + kProducerAt, 8, producer) || !get_hex(h + kSeqAt, 16, seq) ||
      !get_hex(h + kSentAt, 16, sent)) {
    return Check::kBadHeader;
  }
  out.run = static_cast<std::uint32_t>(run);
  out.producer = static_cast<std::uint32_t>(producer);
  out.seq = seq;
  out.sent_ns = static_cast<std::int64_t>(sent);
  if (out.run != run_) return Check::kForeign;
  if (body.size() != size_) return Check::kWrongSize;
  const std::string_view pad = padding(out.producer, seq);
  if (std::memcmp(body.data() + kHeaderSize, pad.data(), pad.size()) != 0) return Check::kBadPattern;
  return Check::kOk;
}

}  // namespace ferry::bench
