#pragma once

#include <cstddef>

namespace ferry::stomp {

// Bounds the parser enforces while parsing, before buffering more input.
struct Limits {
  std::size_t max_frame_size = 16u << 20;    // command + headers + body + NUL
  std::size_t max_body_size = 10u << 20;     // body bytes
  std::size_t max_headers = 1000;            // header lines per frame
  std::size_t max_header_length = 10u << 10; // one header line (name:value), bytes
};

}  // namespace ferry::stomp
