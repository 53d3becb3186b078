#pragma once

#include <future>
#include <string>
#include <vector>

#include "store/env.h"

namespace ferry::store {

// Reads whole segment files one after another for a sequential pass (open's
// verification, replay), with the next file already being read on another
// thread while the caller works on the current one: on a multi-core machine
// reading (the kernel's copy) and checking/applying overlap.
class SegmentPrefetcher {
 public:
  SegmentPrefetcher(Env& env, std::vector<std::string> paths);
  ~SegmentPrefetcher();

  // The next file's bytes, in the order given; false when all were read.
  bool next(IoStatus& status, std::vector<char>& data);

 private:
  struct Read {
    IoStatus status;
    std::vector<char> data;
  };
  void start(std::size_t index);

  Env& env_;
  std::vector<std::string> paths_;
  std::size_t next_ = 0;
  std::future<Read> pending_;
  std::vector<char> spare_;  // the buffer handed back, reused for a later read
};

// Reads a whole file into `data`.
IoStatus read_whole(Env& env, const std::string& path, std::vector<char>& data);

}  // namespace ferry::store
