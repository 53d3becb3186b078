#include "store/segment_prefetcher.h"

namespace ferry::store {

IoStatus read_whole(Env& env, const std::string& path, std::vector<char>& data) {
  std::unique_ptr<File> file;
  if (IoStatus st = env.open_file(path, false, file); !st.ok()) return st;
  std::uint64_t size = 0;
  if (IoStatus st = file->size(size); !st.ok()) return st;
  data.resize(size);
  std::size_t got = 0;
  if (IoStatus st = file->read_at(0, data, got); !st.ok()) return st;
  data.resize(got);
  return IoStatus::success();
}

SegmentPrefetcher::SegmentPrefetcher(Env& env, std::vector<std::string> paths)
    : env_(env), paths_(std::move(paths)) {
  start(0);
}

SegmentPrefetcher::~SegmentPrefetcher() {
  if (pending_.valid()) pending_.wait();
}

void SegmentPrefetcher::start(std::size_t index) {
  if (index >= paths_.size()) return;
  std::vector<char> buffer = std::move(spare_);
  pending_ = std::async(std::launch::async, [this, index, buffer = std::move(buffer)]() mutable {
    Read r;
    r.data = std::move(buffer);
    r.status = read_whole(env_, paths_[index], r.data);
    return r;
  });
}

bool SegmentPrefetcher::next(IoStatus& status, std::vector<char>& data) {
  if (next_ >= paths_.size()) return false;
  Read r = pending_.get();
  ++next_;
  spare_ = std::move(data);  // the caller is done with the previous file
  data = std::move(r.data);
  status = r.status;
  start(next_);
  return true;
}

}  // namespace ferry::store
