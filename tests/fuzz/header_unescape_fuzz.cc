// libFuzzer target for the STOMP header unescaper (stomp/escaping.h).
//
// The input is one raw header value, unescaped under every version. Each
// result is checked against a plain reference decoder written from the
// spec's table (STOMP 1.1/1.2 "Value Encoding"), and the escaper is checked
// to be its inverse: unescape(escape(x)) == x. The value is copied into a
// heap buffer of exactly its size so that ASan catches a read past its end.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "stomp/escaping.h"
#include "stomp/version.h"

namespace {

using namespace ferry::stomp;

[[noreturn]] void fail(const char* what, Version v) {
  std::fprintf(stderr, "header_unescape_fuzz: %s (version %d)\n", what, static_cast<int>(v));
  std::abort();
}

// The spec's table, one escape at a time; nullopt for an undefined one.
std::optional<std::string> reference_unescape(std::string_view in, Version v) {
  if (v == Version::k1_0) return std::string(in);
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\\') {
      out += in[i];
      continue;
    }
    if (i + 1 == in.size()) return std::nullopt;
    const char e = in[++i];
    if (e == 'n') out += '\n';
    else if (e == 'c') out += ':';
    else if (e == '\\') out += '\\';
    else if (e == 'r' && v == Version::k1_2) out += '\r';
    else return std::nullopt;
  }
  return out;
}

// Runs the unescaper on an exact-size heap copy of `text`.
std::optional<std::string> unescape(std::string_view text, Version v) {
  std::unique_ptr<char[]> buf(new char[text.size()]);
  if (!text.empty()) std::memcpy(buf.get(), text.data(), text.size());
  const UnescapeResult r = unescape_in_place(buf.get(), text.size(), v);
  if (r.error != ParseError::kNone) {
    if (r.error != ParseError::kInvalidEscape) fail("unexpected error code", v);
    return std::nullopt;
  }
  if (r.length > text.size()) fail("unescaped value grew", v);
  return std::string(buf.get(), r.length);
}

void check_version(std::string_view text, Version v) {
  const std::optional<std::string> got = unescape(text, v);
  const std::optional<std::string> want = reference_unescape(text, v);
  if (got.has_value() != want.has_value()) fail("accepts/rejects unlike the spec's table", v);
  if (got && *got != *want) fail("decodes unlike the spec's table", v);

  // The escaper's output always unescapes, to the value itself where the
  // version can carry it: 1.0 turns CR/LF into spaces, 1.1 a final CR.
  std::string escaped;
  append_escaped(escaped, text, v);
  const std::optional<std::string> back = unescape(escaped, v);
  if (!back) fail("escaped value does not unescape", v);
  std::string expect(text);
  if (v == Version::k1_0) {
    for (char& c : expect) {
      if (c == '\r' || c == '\n') c = ' ';
    }
  } else if (v == Version::k1_1 && !expect.empty() && expect.back() == '\r') {
    expect.back() = ' ';
  }
  if (*back != expect) fail("unescape(escape(x)) != x", v);
  if (v != Version::k1_0) {
    // An escaped value has no raw LF or colon: it fits on a header line.
    if (escaped.find('\n') != std::string::npos || escaped.find(':') != std::string::npos)
      fail("escaped value still holds LF or ':'", v);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (Version v : {Version::k1_0, Version::k1_1, Version::k1_2}) check_version(text, v);
  return 0;
}
