#pragma once

#include <span>
#include <string>
#include <string_view>

#include "stomp/command.h"
#include "stomp/frame.h"
#include "stomp/version.h"

namespace ferry::stomp {

// Builds server frames into a caller-owned string (appends; never clears), so
// a connection can batch several frames in one write buffer.
//
// Typical use for MESSAGE with a shared body:
//   begin_frame(out, Command::kMessage);
//   add_header(out, "destination", dest, version, Command::kMessage); ...
//   end_headers(out, body.size());   // writes content-length and the blank line
//   ...write body bytes (possibly a separate scatter-gather buffer)...
//   end_frame(out);                  // the NUL
class Encoder {
 public:
  static void begin_frame(std::string& out, Command c);
  static void add_header(std::string& out, std::string_view name, std::string_view value,
                         Version v, Command c);
  // Writes `content-length:<n>` (when with_length) and the blank line.
  static void end_headers(std::string& out, std::size_t body_size, bool with_length = true);
  static void end_frame(std::string& out);  // NUL, then an EOL (see encoder.cc)

  // Whole frame in one call; body copied.
  static void encode(std::string& out, Command c, std::span<const Header> headers,
                     std::string_view body, Version v);
};

}  // namespace ferry::stomp
