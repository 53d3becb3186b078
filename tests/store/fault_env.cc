#include "fault_env.h"

#include <cerrno>
#include <chrono>
#include <thread>

namespace ferry::store::testing {
namespace {

std::string base_name(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

class FaultFile final : public File {
 public:
  FaultFile(FaultEnv& env, std::string path, std::unique_ptr<File> base)
      : env_(env), path_(std::move(path)), base_(std::move(base)) {}

  IoStatus read_at(std::uint64_t offset, std::span<char> out, std::size_t& read) override {
    {
      std::lock_guard lk(env_.mutex_);
      if (env_.crashed_) return IoStatus::from_errno(EIO, "read " + path_);
    }
    return base_->read_at(offset, out, read);
  }

  IoStatus write_at(std::uint64_t offset, std::span<const char> data) override {
    std::lock_guard lk(env_.mutex_);
    if (env_.crashed_) return IoStatus::from_errno(EIO, "write " + path_);
    auto& st = env_.files_[path_];
    // Overwriting durable bytes: a power loss before the next sync brings
    // the old ones back (a recycled segment file's old records).
    if (offset < st.synced) {
      std::string old(std::min<std::uint64_t>(data.size(), st.synced - offset), '\0');
      std::size_t got = 0;
      if (base_->read_at(offset, std::span<char>(old.data(), old.size()), got).ok()) {
        old.resize(got);
        st.undo.emplace_back(offset, std::move(old));
      }
    }
    if (env_.write_err_ != 0) {
      ++env_.failed_writes_;
      std::size_t n = std::min(env_.partial_bytes_, data.size());
      if (n > 0 && base_->write_at(offset, data.first(n)).ok()) {
        st.size = std::max(st.size, offset + n);
      }
      env_.events_.push_back("failed write " + base_name(path_));
      return IoStatus::from_errno(env_.write_err_, "write " + path_);
    }
    IoStatus s = base_->write_at(offset, data);
    if (s.ok()) {
      st.size = std::max(st.size, offset + data.size());
      env_.events_.push_back("write " + base_name(path_) + " " + std::to_string(offset) + " " +
                             std::to_string(data.size()));
    }
    return s;
  }

  IoStatus sync() override {
    int delay = 0;
    {
      std::lock_guard lk(env_.mutex_);
      delay = env_.sync_delay_us_;
    }
    if (delay > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay));
    std::lock_guard lk(env_.mutex_);
    if (env_.crashed_) return IoStatus::from_errno(EIO, "fdatasync " + path_);
    if (env_.sync_err_ != 0) {
      env_.events_.push_back("failed sync " + base_name(path_));
      return IoStatus::from_errno(env_.sync_err_, "fdatasync " + path_);
    }
    IoStatus s = base_->sync();
    if (s.ok()) {
      auto& st = env_.files_[path_];
      st.synced = st.size;
      st.undo.clear();
      env_.events_.push_back("sync " + base_name(path_));
    }
    return s;
  }

  IoStatus truncate(std::uint64_t size) override {
    std::lock_guard lk(env_.mutex_);
    if (env_.crashed_) return IoStatus::from_errno(EIO, "ftruncate " + path_);
    IoStatus s = base_->truncate(size);
    if (s.ok()) {
      auto& st = env_.files_[path_];
      st.size = size;
      // A cut is metadata; treat it as durable, like ext4 does on a
      // truncate-to-smaller (the journal syncs it anyway when it matters).
      st.synced = std::min(st.synced, size);
      for (auto& [at, bytes] : st.undo) {
        if (at >= size) bytes.clear();
        else if (at + bytes.size() > size) bytes.resize(size - at);
      }
      env_.events_.push_back("truncate " + base_name(path_) + " " + std::to_string(size));
    }
    return s;
  }

  IoStatus size(std::uint64_t& out) override { return base_->size(out); }

 private:
  FaultEnv& env_;
  std::string path_;
  std::unique_ptr<File> base_;
};

void FaultEnv::fail_writes(int err, std::size_t partial_bytes) {
  std::lock_guard lk(mutex_);
  write_err_ = err;
  partial_bytes_ = partial_bytes;
}
void FaultEnv::fail_syncs(int err) {
  std::lock_guard lk(mutex_);
  sync_err_ = err;
}
void FaultEnv::clear_faults() {
  std::lock_guard lk(mutex_);
  write_err_ = sync_err_ = 0;
  partial_bytes_ = 0;
}
void FaultEnv::set_sync_delay_us(int us) {
  std::lock_guard lk(mutex_);
  sync_delay_us_ = us;
}

void FaultEnv::crash() {
  std::lock_guard lk(mutex_);
  for (auto& [path, st] : files_) {
    std::unique_ptr<File> f;
    if (base_.open_file(path, false, f).ok()) {
      for (auto it = st.undo.rbegin(); it != st.undo.rend(); ++it) {
        if (!it->second.empty()) (void)f->write_at(it->first, std::span<const char>(it->second.data(), it->second.size()));
      }
      (void)f->truncate(st.synced);
    }
    st.undo.clear();
    st.size = st.synced;
  }
  crashed_ = true;
  events_.push_back("crash");
}
void FaultEnv::restart() {
  std::lock_guard lk(mutex_);
  crashed_ = false;
}

void FaultEnv::note(const std::string& text) {
  std::lock_guard lk(mutex_);
  events_.push_back(text);
}
std::vector<std::string> FaultEnv::events() const {
  std::lock_guard lk(mutex_);
  return events_;
}
std::uint64_t FaultEnv::unsynced_bytes() const {
  std::lock_guard lk(mutex_);
  std::uint64_t n = 0;
  for (const auto& [path, st] : files_) n += st.size > st.synced ? st.size - st.synced : 0;
  return n;
}
int FaultEnv::failed_writes() const {
  std::lock_guard lk(mutex_);
  return failed_writes_;
}

IoStatus FaultEnv::create_dirs(const std::string& path) { return base_.create_dirs(path); }
IoStatus FaultEnv::list_dir(const std::string& path, std::vector<std::string>& names) {
  return base_.list_dir(path, names);
}

IoStatus FaultEnv::open_file(const std::string& path, bool create, std::unique_ptr<File>& out) {
  std::lock_guard lk(mutex_);
  if (crashed_) return IoStatus::from_errno(EIO, "open " + path);
  std::unique_ptr<File> base;
  if (IoStatus s = base_.open_file(path, create, base); !s.ok()) return s;
  if (files_.find(path) == files_.end()) {
    std::uint64_t size = 0;
    (void)base->size(size);
    files_[path] = FileState{size, size};  // what was there before counts as durable
  }
  out = std::make_unique<FaultFile>(*this, path, std::move(base));
  return IoStatus::success();
}

IoStatus FaultEnv::remove_file(const std::string& path) {
  std::lock_guard lk(mutex_);
  if (crashed_) return IoStatus::from_errno(EIO, "unlink " + path);
  IoStatus s = base_.remove_file(path);
  if (s.ok()) {
    files_.erase(path);
    events_.push_back("remove " + base_name(path));
  }
  return s;
}

IoStatus FaultEnv::rename_file(const std::string& from, const std::string& to) {
  std::lock_guard lk(mutex_);
  if (crashed_) return IoStatus::from_errno(EIO, "rename " + from);
  IoStatus s = base_.rename_file(from, to);
  if (s.ok()) {
    auto it = files_.find(from);
    if (it != files_.end()) {
      files_[to] = it->second;
      files_.erase(from);
    } else {
      files_.erase(to);
    }
    events_.push_back("rename " + base_name(from) + " " + base_name(to));
  }
  return s;
}

IoStatus FaultEnv::sync_dir(const std::string& path) {
  {
    std::lock_guard lk(mutex_);
    if (crashed_) return IoStatus::from_errno(EIO, "fsync " + path);
  }
  return base_.sync_dir(path);
}

IoStatus FaultEnv::lock_file(const std::string& path, std::unique_ptr<FileLock>& out) {
  return base_.lock_file(path, out);
}

}  // namespace ferry::store::testing
