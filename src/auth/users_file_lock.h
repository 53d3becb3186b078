#pragma once

#include <string>

#include "common/result.h"

namespace ferry::auth {

// An exclusive advisory lock (flock) on "<users-file>.lock", held for the
// lifetime of the object: the broker (management API edits) and the `ferry
// user` / `ferry vhost` commands take it around read-modify-write of the
// users file, so two editors never lose each other's change. The lock file
// is separate because saving replaces the users file by rename.
class UsersFileLock {
 public:
  // Blocks until the lock is held. An Error naming the lock file when it
  // cannot be created or locked.
  static Result<UsersFileLock> acquire(const std::string& users_file);
  ~UsersFileLock();
  UsersFileLock(UsersFileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  UsersFileLock& operator=(UsersFileLock&& other) noexcept;
  UsersFileLock(const UsersFileLock&) = delete;
  UsersFileLock& operator=(const UsersFileLock&) = delete;

 private:
  explicit UsersFileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace ferry::auth
