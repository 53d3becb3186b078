#include "store/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ferry::store {

std::string IoStatus::to_string() const {
  if (ok()) return "ok";
  return context + ": " + std::strerror(code);
}

namespace {

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }

  IoStatus read_at(std::uint64_t offset, std::span<char> out, std::size_t& read) override {
    read = 0;
    while (read < out.size()) {
      ssize_t n = ::pread(fd_, out.data() + read, out.size() - read,
                          static_cast<off_t>(offset + read));
      if (n < 0) {
        if (errno == EINTR) continue;
        return IoStatus::from_errno(errno, "read " + path_);
      }
      if (n == 0) break;
      read += static_cast<std::size_t>(n);
    }
    return IoStatus::success();
  }

  IoStatus write_at(std::uint64_t offset, std::span<const char> data) override {
    std::size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done,
                           static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return IoStatus::from_errno(errno, "write " + path_);
      }
      done += static_cast<std::size_t>(n);
    }
    return IoStatus::success();
  }

  IoStatus sync() override {
    while (::fdatasync(fd_) != 0) {
      if (errno != EINTR) return IoStatus::from_errno(errno, "fdatasync " + path_);
    }
    return IoStatus::success();
  }

  IoStatus truncate(std::uint64_t size) override {
    while (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      if (errno != EINTR) return IoStatus::from_errno(errno, "ftruncate " + path_);
    }
    return IoStatus::success();
  }

  IoStatus size(std::uint64_t& out) override {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return IoStatus::from_errno(errno, "fstat " + path_);
    out = static_cast<std::uint64_t>(st.st_size);
    return IoStatus::success();
  }

 private:
  int fd_;
  std::string path_;
};

class PosixLock final : public FileLock {
 public:
  explicit PosixLock(int fd) : fd_(fd) {}
  ~PosixLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

class PosixEnv final : public Env {
 public:
  IoStatus create_dirs(const std::string& path) override {
    if (path.empty()) return IoStatus::from_errno(EINVAL, "mkdir (empty path)");
    std::size_t pos = 0;
    while (true) {
      pos = path.find('/', pos + 1);
      std::string prefix = path.substr(0, pos);
      if (!prefix.empty() && ::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
        return IoStatus::from_errno(errno, "mkdir " + prefix);
      }
      if (pos == std::string::npos) break;
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return IoStatus::from_errno(errno, "stat " + path);
    if (!S_ISDIR(st.st_mode)) return IoStatus::from_errno(ENOTDIR, "mkdir " + path);
    return IoStatus::success();
  }

  IoStatus list_dir(const std::string& path, std::vector<std::string>& names) override {
    names.clear();
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) return IoStatus::from_errno(errno, "opendir " + path);
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
    ::closedir(d);
    return IoStatus::success();
  }

  IoStatus open_file(const std::string& path, bool create, std::unique_ptr<File>& out) override {
    int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return IoStatus::from_errno(errno, "open " + path);
    out = std::make_unique<PosixFile>(fd, path);
    return IoStatus::success();
  }

  IoStatus remove_file(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return IoStatus::from_errno(errno, "unlink " + path);
    return IoStatus::success();
  }

  IoStatus rename_file(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return IoStatus::from_errno(errno, "rename " + from + " " + to);
    return IoStatus::success();
  }

  IoStatus sync_dir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return IoStatus::from_errno(errno, "open " + path);
    IoStatus st;
    if (::fsync(fd) != 0) st = IoStatus::from_errno(errno, "fsync " + path);
    ::close(fd);
    return st;
  }

  IoStatus lock_file(const std::string& path, std::unique_ptr<FileLock>& out) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return IoStatus::from_errno(errno, "open " + path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      return IoStatus::from_errno(err, "flock " + path);
    }
    out = std::make_unique<PosixLock>(fd);
    return IoStatus::success();
  }
};

}  // namespace

Env& Env::posix() {
  static PosixEnv env;
  return env;
}

}  // namespace ferry::store
