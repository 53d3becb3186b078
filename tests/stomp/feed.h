#pragma once

// Test driver for stomp::Parser: plays a connection's read loop (append the
// bytes of each read to a buffer, call next() until it needs more, drop what
// was consumed) and records what came out, copied, so outcomes of different
// ways of splitting the same bytes can be compared.

#include <gtest/gtest.h>

#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stomp/frame.h"
#include "stomp/limits.h"
#include "stomp/parse_error.h"
#include "stomp/parser.h"
#include "stomp/version.h"

namespace ferry::stomp::testing {

struct ParsedFrame {
  Command command = Command::kSend;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  bool operator==(const ParsedFrame&) const = default;
};

struct Outcome {
  std::vector<ParsedFrame> frames;
  ParseError error = ParseError::kNone;
  std::size_t unconsumed = 0;  // bytes still buffered at the end (0 after an error)

  bool operator==(const Outcome&) const = default;
};

inline std::string printable(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (u < 0x20 || u >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

inline std::ostream& operator<<(std::ostream& os, const ParsedFrame& f) {
  os << to_string(f.command) << " {";
  for (const auto& [name, value] : f.headers) {
    os << " \"" << printable(name) << "\":\"" << printable(value) << "\"";
  }
  return os << " } \"" << printable(f.body) << "\"";
}

inline std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  os << "{ frames: [";
  for (const ParsedFrame& f : o.frames) os << "\n    " << f;
  return os << " ], error: \"" << describe(o.error) << "\", unconsumed: " << o.unconsumed << " }";
}

inline ParsedFrame frame(Command c, std::vector<std::pair<std::string, std::string>> headers = {},
                         std::string body = {}) {
  return ParsedFrame{c, std::move(headers), std::move(body)};
}

// Limits small enough that tests can cross each of them.
inline Limits small_limits() {
  Limits l;
  l.max_frame_size = 64;
  l.max_body_size = 16;
  l.max_headers = 3;
  l.max_header_length = 20;
  return l;
}

inline bool within(std::string_view view, const std::string& buffer) {
  return view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + buffer.size();
}

// Feeds the chunks in order, one read each.
inline Outcome feed_chunks(const std::vector<std::string_view>& chunks, const Limits& limits = {},
                           Version version = Version::k1_0) {
  Parser parser(limits);
  parser.set_version(version);
  Outcome outcome;
  std::string buffer;
  for (const std::string_view chunk : chunks) {
    buffer.append(chunk);
    for (;;) {
      Frame f;
      const Parser::Result r = parser.next(std::span<char>(buffer.data(), buffer.size()), f);
      if (r.status == Parser::Status::kError) {
        EXPECT_EQ(r.consumed, 0u);
        EXPECT_NE(r.error, ParseError::kNone);
        outcome.error = r.error;
        return outcome;
      }
      EXPECT_EQ(r.error, ParseError::kNone);
      EXPECT_LE(r.consumed, buffer.size());
      if (r.status == Parser::Status::kFrame) {
        // Zero copy: every view points into the caller's buffer.
        ParsedFrame parsed{f.command, {}, std::string(f.body)};
        EXPECT_TRUE(within(f.body, buffer));
        for (const Header& h : f.headers) {
          EXPECT_TRUE(within(h.name, buffer));
          EXPECT_TRUE(within(h.value, buffer));
          parsed.headers.emplace_back(h.name, h.value);
        }
        outcome.frames.push_back(std::move(parsed));
        EXPECT_GT(r.consumed, 0u);
      }
      buffer.erase(0, r.consumed);
      if (r.status == Parser::Status::kNeedMore && r.consumed == 0) break;
    }
  }
  outcome.unconsumed = buffer.size();
  return outcome;
}

inline Outcome feed(std::string_view wire, const Limits& limits = {},
                    Version version = Version::k1_0) {
  return feed_chunks({wire}, limits, version);
}

inline Outcome feed_byte_by_byte(std::string_view wire, const Limits& limits = {},
                                 Version version = Version::k1_0) {
  std::vector<std::string_view> chunks;
  for (std::size_t i = 0; i < wire.size(); ++i) chunks.push_back(wire.substr(i, 1));
  return feed_chunks(chunks, limits, version);
}

inline Outcome feed_split(std::string_view wire, std::size_t at, const Limits& limits = {},
                          Version version = Version::k1_0) {
  return feed_chunks({wire.substr(0, at), wire.substr(at)}, limits, version);
}

// Feeds `wire` whole, byte by byte, and split in two at every offset; all
// must agree. Returns the outcome of the whole feed.
inline Outcome feed_every_way(std::string_view wire, const Limits& limits = {},
                              Version version = Version::k1_0) {
  const Outcome whole = feed(wire, limits, version);
  EXPECT_EQ(feed_byte_by_byte(wire, limits, version), whole) << "fed byte by byte";
  for (std::size_t at = 0; at <= wire.size(); ++at) {
    EXPECT_EQ(feed_split(wire, at, limits, version), whole) << "split at offset " << at;
  }
  return whole;
}

// The wire, fed every way, yields exactly these frames and nothing else.
inline void expect_frames(std::string_view wire, const std::vector<ParsedFrame>& frames,
                          Version version = Version::k1_0, const Limits& limits = {}) {
  SCOPED_TRACE("wire: \"" + printable(wire) + "\"");
  EXPECT_EQ(feed_every_way(wire, limits, version), (Outcome{frames, ParseError::kNone, 0}));
}

inline void expect_frame(std::string_view wire, const ParsedFrame& f,
                         Version version = Version::k1_0, const Limits& limits = {}) {
  expect_frames(wire, {f}, version, limits);
}

// The wire, fed every way, fails with `error` after yielding `frames_before`.
inline void expect_error(std::string_view wire, ParseError error, Version version = Version::k1_0,
                         const Limits& limits = {}, std::size_t frames_before = 0) {
  SCOPED_TRACE("wire: \"" + printable(wire) + "\"");
  const Outcome o = feed_every_way(wire, limits, version);
  EXPECT_EQ(o.error, error) << o;
  EXPECT_EQ(o.frames.size(), frames_before) << o;
}

// The wire, fed every way, is an incomplete frame: no frame, no error.
inline void expect_need_more(std::string_view wire, Version version = Version::k1_0,
                             const Limits& limits = {}) {
  SCOPED_TRACE("wire: \"" + printable(wire) + "\"");
  const Outcome o = feed_every_way(wire, limits, version);
  EXPECT_EQ(o.error, ParseError::kNone) << o;
  EXPECT_TRUE(o.frames.empty()) << o;
}

// std::string from a literal that may hold NULs.
template <std::size_t N>
std::string bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

constexpr Version kAllVersions[] = {Version::k1_0, Version::k1_1, Version::k1_2};

}  // namespace ferry::stomp::testing
