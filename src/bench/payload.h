#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::bench {

// What a message body says about itself.
struct Stamp {
  std::uint32_t run = 0;       // random per `ferry bench` process: tells old messages apart
  std::uint32_t producer = 0;  // 0-based producer index
  std::uint64_t seq = 0;       // per producer, from 0
  std::int64_t sent_ns = 0;    // steady clock at encoding (same process as the consumer)
};

// The body of every message `ferry bench` sends: a fixed-width text header,
// then a pattern that depends on the sequence number, padded to the size.
//
//   "FB1 " run(8 hex) ' ' producer(8 hex) ' ' seq(16 hex) ' ' sent_ns(16 hex) '\n'
//   then byte i (i >= kHeaderSize) = 'a' + (seq + 7 * producer + i) % 26
//
// Text only (no NUL, no bytes >= 0x80), so every broker and protocol bridge
// carries it unchanged. A body of the wrong size, with a malformed header or a
// wrong pattern byte is corrupt; one with another run id is foreign (a
// leftover of an earlier run on the same destination). The pattern depends
// on producer and sequence number, so a body moved under another message's
// header is caught; only the send time is not covered.
class Payload {
 public:
  static constexpr std::size_t kHeaderSize = 56;

  enum class Check { kOk, kWrongSize, kBadHeader, kForeign, kBadPattern };

  // `size` >= kHeaderSize (the options check it).
  Payload(std::uint32_t run, std::size_t size);

  std::size_t size() const { return size_; }
  std::uint32_t run() const { return run_; }

  // Appends exactly size() bytes to `out`.
  void append(std::string& out, std::uint32_t producer, std::uint64_t seq, std::int64_t sent_ns) const;

  // Reads the stamp (valid when the result is kOk or kForeign or kBadPattern)
  // and checks every byte.
  Check check(std::string_view body, Stamp& out) const;

 private:
  std::string_view padding(std::uint32_t producer, std::uint64_t seq) const;

  std::uint32_t run_;
  std::size_t size_;
  std::string pattern_;  // 'a'..'z' repeated, 26 bytes longer than the padding
};

}  // namespace ferry::bench
