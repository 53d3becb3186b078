#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "stomp/command.h"

namespace ferry::stomp {

struct Header {
  std::string_view name;
  std::string_view value;
};

// A parsed frame. Every view points into the parser's caller-owned read
// buffer (or the parser's own header table) and is valid until the next call
// to Parser::next() or until the caller moves/compacts that buffer.
// Header names and values are already unescaped per the negotiated version.
struct Frame {
  Command command = Command::kSend;
  std::span<const Header> headers;
  std::string_view body;

  // First occurrence wins (STOMP 1.2 "repeated header entries").
  std::optional<std::string_view> get(std::string_view name) const {
    for (const Header& h : headers) {
      if (h.name == name) return h.value;
    }
    return std::nullopt;
  }
};

}  // namespace ferry::stomp
