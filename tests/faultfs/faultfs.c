/* libferry_faultfs.so: an LD_PRELOAD shim that makes file I/O under one
 * directory fail on demand, so the integration tests can run the real
 * `ferry` binary against a disk that fills up or a device that loses writes
 * (tests/integration/test_disk_faults.py).
 *
 * Start-up environment (read once, in the constructor):
 *   FERRY_FAULTFS_DIR=<dir>       only files whose path is <dir> or below it
 *                                 are affected (the broker's data-dir)
 *   FERRY_FAULTFS_CONTROL=<file>  its first word, re-read on every affected
 *                                 call, says which fault is on:
 *     (empty), "off"  no fault
 *     "enospc"        the disk is full: write/pwrite/writev/pwritev fail with
 *                     ENOSPC, except that a call of more than 4 KiB first
 *                     writes half of its bytes and returns short (as a real
 *                     file system that runs out mid-write does: the caller's
 *                     retry of the rest then fails); fallocate and
 *                     posix_fallocate fail; creating a NEW file fails
 *     "eio-write"     writes fail with EIO (nothing written)
 *     "eio-fsync"     writes succeed, fsync/fdatasync/sync_file_range fail
 *                     with EIO (a device that lost the dirty pages)
 *     "slow-read N"   pread/pread64 sleep N ms before reading (a slow disk:
 *                     a journal recovery that takes seconds; test_health.py)
 *     "slow-fsync N"  fsync/fdatasync sleep N ms before syncing (records
 *                     queue behind a sync: what an answer must wait for)
 *   Without both variables the shim passes everything through.
 *
 * ftruncate, unlink, reads and directory listing are never failed: they are
 * what a program needs to clean up after a failed write.
 *
 * Every injected failure increments a counter that the shim writes to
 * <control>.count (best effort), so a test can prove the faults were hit. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum fault { FAULT_NONE, FAULT_ENOSPC, FAULT_EIO_WRITE, FAULT_EIO_FSYNC, FAULT_SLOW_READ, FAULT_SLOW_FSYNC };
static atomic_long g_slow_read_ms;
static atomic_long g_slow_fsync_ms;

static char g_dir[PATH_MAX];
static size_t g_dir_len;
static char g_control[PATH_MAX];
static char g_count_path[PATH_MAX + 8];
static atomic_ulong g_injected;

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*real_pwritev64)(int, const struct iovec *, int, off64_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_sync_file_range)(int, off64_t, off64_t, unsigned int);
static int (*real_fallocate)(int, int, off_t, off_t);
static int (*real_fallocate64)(int, int, off64_t, off64_t);
static int (*real_posix_fallocate)(int, off_t, off_t);
static int (*real_posix_fallocate64)(int, off64_t, off64_t);
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_pread64)(int, void *, size_t, off64_t);

#define RESOLVE(name) real_##name = dlsym(RTLD_NEXT, #name)

/* Called by the constructor, and by any wrapper that runs before it (another
 * library's constructor may write first). Idempotent; a race stores the same
 * pointers. */
static void resolve_all(void) {
  RESOLVE(write);
  RESOLVE(pwrite);
  RESOLVE(pwrite64);
  RESOLVE(writev);
  RESOLVE(pwritev);
  RESOLVE(pwritev64);
  RESOLVE(fsync);
  RESOLVE(fdatasync);
  RESOLVE(sync_file_range);
  RESOLVE(fallocate);
  RESOLVE(fallocate64);
  RESOLVE(posix_fallocate);
  RESOLVE(posix_fallocate64);
  RESOLVE(open);
  RESOLVE(open64);
  RESOLVE(openat);
  RESOLVE(openat64);
  RESOLVE(pread);
  RESOLVE(pread64);
}

#define ENSURE(name) \
  do {                 \
    if (real_##name == NULL) resolve_all(); \
  } while (0)

__attribute__((constructor)) static void faultfs_init(void) {
  resolve_all();
  const char *dir = getenv("FERRY_FAULTFS_DIR");
  const char *control = getenv("FERRY_FAULTFS_CONTROL");
  if (dir == NULL || control == NULL || *dir == '\0' || *control == '\0') return;
  /* Compare against the canonical path: /proc/self/fd links are canonical. */
  if (realpath(dir, g_dir) == NULL) snprintf(g_dir, sizeof g_dir, "%s", dir);
  g_dir_len = strlen(g_dir);
  while (g_dir_len > 1 && g_dir[g_dir_len - 1] == '/') g_dir[--g_dir_len] = '\0';
  snprintf(g_control, sizeof g_control, "%s", control);
  snprintf(g_count_path, sizeof g_count_path, "%s.count", control);
}

static int under_dir(const char *path) {
  return g_dir_len > 0 && strncmp(path, g_dir, g_dir_len) == 0 &&
         (path[g_dir_len] == '/' || path[g_dir_len] == '\0');
}

static int fd_under_dir(int fd) {
  if (g_dir_len == 0) return 0;
  char link[64];
  char path[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return 0;
  path[n] = '\0';
  return under_dir(path);
}

/* The fault now on. Uses the real open/read (this file interposes open, so
 * call through the saved pointer) and keeps errno intact. */
static enum fault current_fault(void) {
  int saved = errno;
  enum fault f = FAULT_NONE;
  int fd = real_open(g_control, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n > 0) {
      buf[n] = '\0';
      char *end = buf + strcspn(buf, " \t\r\n");
      const char *arg = *end != '\0' ? end + 1 : end;
      *end = '\0';
      if (strcmp(buf, "slow-read") == 0) {
        f = FAULT_SLOW_READ;
        atomic_store(&g_slow_read_ms, strtol(arg, NULL, 10));
      }
      if (strcmp(buf, "slow-fsync") == 0) {
        f = FAULT_SLOW_FSYNC;
        atomic_store(&g_slow_fsync_ms, strtol(arg, NULL, 10));
      }
      if (strcmp(buf, "enospc") == 0) f = FAULT_ENOSPC;
      else if (strcmp(buf, "eio-write") == 0) f = FAULT_EIO_WRITE;
      else if (strcmp(buf, "eio-fsync") == 0) f = FAULT_EIO_FSYNC;
    }
  }
  errno = saved;
  return f;
}

static enum fault fault_for_fd(int fd) {
  if (!fd_under_dir(fd)) return FAULT_NONE;
  return current_fault();
}

static void count_injection(void) {
  unsigned long n = atomic_fetch_add(&g_injected, 1) + 1;
  int saved = errno;
  /* Fixed width, written over the old value: a reader never sees it empty. */
  int fd = real_open(g_count_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) {
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%20lu\n", n);
    if (real_write(fd, buf, (size_t)len) < 0) { /* best effort */ }
    close(fd);
  }
  errno = saved;
}

static int fail_with(int err) {
  count_injection();
  errno = err;
  return -1;
}

/* For a write of `count` bytes: -1 = pass through, otherwise the number of
 * bytes to write for real before returning short (0 = fail with errno set). */
static long write_plan(int fd, size_t count, int *err) {
  switch (fault_for_fd(fd)) {
    case FAULT_ENOSPC:
      *err = ENOSPC;
      return count > 4096 ? (long)(count / 2) : 0;
    case FAULT_EIO_WRITE:
      *err = EIO;
      return 0;
    default:
      return -1;
  }
}

static void maybe_slow_read(int fd) {
  if (fault_for_fd(fd) != FAULT_SLOW_READ) return;
  long ms = atomic_load(&g_slow_read_ms);
  if (ms > 0) usleep((useconds_t)(ms * 1000));
}

ssize_t pread(int fd, void *buf, size_t count, off_t offset) {
  ENSURE(pread);
  maybe_slow_read(fd);
  return real_pread(fd, buf, count, offset);
}

ssize_t pread64(int fd, void *buf, size_t count, off64_t offset) {
  ENSURE(pread64);
  maybe_slow_read(fd);
  return real_pread64(fd, buf, count, offset);
}

ssize_t write(int fd, const void *buf, size_t count) {
  ENSURE(write);
  int err = 0;
  long plan = write_plan(fd, count, &err);
  if (plan < 0) return real_write(fd, buf, count);
  if (plan == 0) return fail_with(err);
  count_injection();
  return real_write(fd, buf, (size_t)plan);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
  ENSURE(pwrite);
  int err = 0;
  long plan = write_plan(fd, count, &err);
  if (plan < 0) return real_pwrite(fd, buf, count, offset);
  if (plan == 0) return fail_with(err);
  count_injection();
  return real_pwrite(fd, buf, (size_t)plan, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset) {
  ENSURE(pwrite64);
  int err = 0;
  long plan = write_plan(fd, count, &err);
  if (plan < 0) return real_pwrite64(fd, buf, count, offset);
  if (plan == 0) return fail_with(err);
  count_injection();
  return real_pwrite64(fd, buf, (size_t)plan, offset);
}

static size_t iov_bytes(const struct iovec *iov, int n) {
  size_t total = 0;
  for (int i = 0; i < n; ++i) total += iov[i].iov_len;
  return total;
}

/* Vectored writes fail whole (no short write): simpler, and still a failure
 * the caller must handle. */
ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
  ENSURE(writev);
  int err = 0;
  if (write_plan(fd, iov_bytes(iov, iovcnt), &err) < 0) return real_writev(fd, iov, iovcnt);
  return fail_with(err);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
  ENSURE(pwritev);
  int err = 0;
  if (write_plan(fd, iov_bytes(iov, iovcnt), &err) < 0) return real_pwritev(fd, iov, iovcnt, offset);
  return fail_with(err);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off64_t offset) {
  ENSURE(pwritev64);
  int err = 0;
  if (write_plan(fd, iov_bytes(iov, iovcnt), &err) < 0) return real_pwritev64(fd, iov, iovcnt, offset);
  return fail_with(err);
}

/* EIO for "eio-fsync"; the delay of "slow-fsync N"; 0 = sync for real. */
static int sync_fault(int fd) {
  const enum fault f = fault_for_fd(fd);
  if (f == FAULT_EIO_FSYNC) return fail_with(EIO);
  if (f == FAULT_SLOW_FSYNC) {
    long ms = atomic_load(&g_slow_fsync_ms);
    if (ms > 0) usleep((useconds_t)(ms * 1000));
  }
  return 0;
}

int fsync(int fd) {
  ENSURE(fsync);
  if (sync_fault(fd) != 0) return -1;
  return real_fsync(fd);
}

int fdatasync(int fd) {
  ENSURE(fdatasync);
  if (sync_fault(fd) != 0) return -1;
  return real_fdatasync(fd);
}

int sync_file_range(int fd, off64_t offset, off64_t nbytes, unsigned int flags) {
  ENSURE(sync_file_range);
  if (fault_for_fd(fd) == FAULT_EIO_FSYNC) return fail_with(EIO);
  return real_sync_file_range(fd, offset, nbytes, flags);
}

int fallocate(int fd, int mode, off_t offset, off_t len) {
  ENSURE(fallocate);
  if (fault_for_fd(fd) == FAULT_ENOSPC) return fail_with(ENOSPC);
  return real_fallocate(fd, mode, offset, len);
}

int fallocate64(int fd, int mode, off64_t offset, off64_t len) {
  ENSURE(fallocate64);
  if (fault_for_fd(fd) == FAULT_ENOSPC) return fail_with(ENOSPC);
  return real_fallocate64(fd, mode, offset, len);
}

/* posix_fallocate returns the error instead of setting errno. */
int posix_fallocate(int fd, off_t offset, off_t len) {
  ENSURE(posix_fallocate);
  if (fault_for_fd(fd) == FAULT_ENOSPC) {
    count_injection();
    return ENOSPC;
  }
  return real_posix_fallocate(fd, offset, len);
}

int posix_fallocate64(int fd, off64_t offset, off64_t len) {
  ENSURE(posix_fallocate64);
  if (fault_for_fd(fd) == FAULT_ENOSPC) {
    count_injection();
    return ENOSPC;
  }
  return real_posix_fallocate64(fd, offset, len);
}

/* A full disk cannot take a new directory entry: creating a file that does
 * not exist yet under the directory fails. Opening existing files works. */
static int refuse_create(int dirfd, const char *path, int flags) {
  if (!(flags & O_CREAT) || g_dir_len == 0) return 0;
  char full[2 * PATH_MAX + 2];
  if (path[0] == '/') {
    snprintf(full, sizeof full, "%s", path);
  } else {
    char base[PATH_MAX];
    if (dirfd == AT_FDCWD) {
      if (getcwd(base, sizeof base) == NULL) return 0;
    } else {
      char link[64];
      snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
      ssize_t n = readlink(link, base, sizeof base - 1);
      if (n <= 0) return 0;
      base[n] = '\0';
    }
    snprintf(full, sizeof full, "%s/%s", base, path);
  }
  if (!under_dir(full)) return 0;
  int saved = errno;
  struct stat st;
  int exists = stat(full, &st) == 0;
  errno = saved;
  return !exists && current_fault() == FAULT_ENOSPC;
}

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...) {
  ENSURE(open);
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  if (refuse_create(AT_FDCWD, path, flags)) return fail_with(ENOSPC);
  return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) {
  ENSURE(open64);
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  if (refuse_create(AT_FDCWD, path, flags)) return fail_with(ENOSPC);
  return real_open64(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...) {
  ENSURE(openat);
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  if (refuse_create(dirfd, path, flags)) return fail_with(ENOSPC);
  return real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) {
  ENSURE(openat64);
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  if (refuse_create(dirfd, path, flags)) return fail_with(ENOSPC);
  return real_openat64(dirfd, path, flags, mode);
}
