#pragma once

#include <string>

namespace ferry::auth {

// An exclusive advisory lock (flock) on "<users-file>.lock", held for the
// lifetime of the object: the broker (management API edits) and the `ferry
// user` / `ferry vhost` commands take it around read-modify-write of the
// users file, so two editors never lose each other's change. The lock file
// is separate because saving replaces the users file by rename.
class UsersFileLock {
 public:
  // Blocks until the lock is held. Throws std::runtime_error naming the
  // lock file when it cannot be created or locked.
  explicit UsersFileLock(const std::string& users_file);
  ~UsersFileLock();
  UsersFileLock(const UsersFileLock&) = delete;
  UsersFileLock& operator=(const UsersFileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace ferry::auth
