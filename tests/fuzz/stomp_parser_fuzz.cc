// libFuzzer target for stomp::Parser.
//
// Input layout: 8 bytes of settings, then the byte stream.
//   [0]    bits 0-1: version; bit 2: default (large) limits instead of small
//   [1..4] small limits: frame, body, headers, header line
//   [5..7] seed for the random split
//
// The stream is fed three ways: whole, in random chunks, byte by byte. All
// must yield the same frames and the same error; every frame must respect
// the limits and point into the caller's buffer.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stomp/frame.h"
#include "stomp/limits.h"
#include "stomp/parser.h"
#include "stomp/version.h"

namespace {

using namespace ferry::stomp;

struct Parsed {
  Command command;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool operator==(const Parsed&) const = default;
};

struct Outcome {
  std::vector<Parsed> frames;
  ParseError error = ParseError::kNone;
  bool operator==(const Outcome&) const = default;
};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "stomp_parser_fuzz: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

bool within(std::string_view v, const std::string& buf) {
  return v.data() >= buf.data() && v.data() + v.size() <= buf.data() + buf.size();
}

// Feeds `stream` in chunks of the sizes `next_chunk` returns, like a
// connection's read loop.
template <typename NextChunk>
Outcome run(std::string_view stream, const Limits& limits, Version version, NextChunk next_chunk) {
  Parser parser(limits);
  parser.set_version(version);
  Outcome out;
  std::string buf;
  std::size_t pos = 0;
  while (pos < stream.size()) {
    const std::size_t n = std::min(next_chunk(), stream.size() - pos);
    buf.append(stream.substr(pos, n));
    pos += n;
    for (;;) {
      Frame f;
      const Parser::Result r = parser.next(std::span<char>(buf.data(), buf.size()), f);
      check(r.consumed <= buf.size(), "consumed past the buffer");
      if (r.status == Parser::Status::kError) {
        check(r.error != ParseError::kNone, "error without a code");
        out.error = r.error;
        return out;
      }
      if (r.status == Parser::Status::kFrame) {
        check(r.consumed > 0, "frame of zero bytes");
        check(f.headers.size() <= limits.max_headers, "max_headers not enforced");
        check(f.body.size() <= limits.max_body_size, "max_body_size not enforced");
        check(within(f.body, buf), "body outside the buffer");
        Parsed p{f.command, {}, std::string(f.body)};
        for (const Header& h : f.headers) {
          check(within(h.name, buf) && within(h.value, buf), "header outside the buffer");
          check(!h.name.empty(), "empty header name");
          p.headers.emplace_back(h.name, h.value);
        }
        // The frame proper (after leading EOLs) starts at the command.
        const char* start = buf.data();
        while (*start == '\n' || *start == '\r') ++start;
        const auto frame_size = static_cast<std::size_t>(buf.data() + r.consumed - start);
        check(frame_size <= limits.max_frame_size, "max_frame_size not enforced");
        check(buf[r.consumed - 1] == '\0', "frame not ended by NUL");
        if (!f.get("content-length")) {
          check(f.body.find('\0') == std::string_view::npos, "NUL inside a NUL-ended body");
        }
        out.frames.push_back(std::move(p));
      }
      buf.erase(0, r.consumed);
      if (r.status == Parser::Status::kNeedMore && r.consumed == 0) break;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  const Version version = static_cast<Version>((data[0] & 3) % 3);
  Limits limits;
  if ((data[0] & 4) == 0) {
    limits.max_frame_size = data[1];
    limits.max_body_size = data[2] % 64;
    limits.max_headers = data[3] % 8;
    limits.max_header_length = data[4] % 48;
  }
  std::uint32_t seed = data[5] | (data[6] << 8) | (data[7] << 16) | 1u;
  const std::string_view stream(reinterpret_cast<const char*>(data + 8), size - 8);

  const Outcome whole = run(stream, limits, version, [] { return SIZE_MAX; });
  const Outcome bytewise = run(stream, limits, version, [] { return std::size_t{1}; });
  const Outcome random = run(stream, limits, version, [&seed] {
    seed ^= seed << 13;  // xorshift32
    seed ^= seed >> 17;
    seed ^= seed << 5;
    return std::size_t{1} + seed % 24;
  });
  check(whole == bytewise, "whole and byte-by-byte parses differ");
  check(whole == random, "whole and randomly split parses differ");
  return 0;
}
