#pragma once

#include <unistd.h>

namespace ferry::bench {

// Closes a file descriptor on scope exit (the raw-socket modes).
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

}  // namespace ferry::bench
