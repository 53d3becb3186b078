#pragma once

#include <cstdio>
#include <cstdlib>

// FERRY_ASSERT is always on: a broken invariant is a bug, and continuing would
// risk losing or corrupting messages. It prints the failed expression and
// where, then aborts (so a core dump or sanitizer report shows the state).
#define FERRY_ASSERT(cond)                                                              \
  do {                                                                                  \
    if (!(cond)) [[unlikely]] {                                                         \
      std::fprintf(stderr, "FERRY_ASSERT failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
