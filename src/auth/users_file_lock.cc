#include "auth/users_file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace ferry::auth {

Result<UsersFileLock> UsersFileLock::acquire(const std::string& users_file) {
  const std::string path = users_file + ".lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return failure("cannot open " + path, std::strerror(errno));
  int rc;
  do rc = ::flock(fd, LOCK_EX);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int e = errno;
    ::close(fd);
    return failure("cannot lock " + path, std::strerror(e));
  }
  return UsersFileLock(fd);
}

UsersFileLock& UsersFileLock::operator=(UsersFileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

UsersFileLock::~UsersFileLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

}  // namespace ferry::auth
