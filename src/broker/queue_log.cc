#include "broker/queue_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "store/crc32c.h"
#include "store/env.h"
#include "store/replace_file.h"

namespace ferry::broker {

namespace {

// One record (docs/journal.md, "queues.log"):
//   OP ' ' CRC ' ' VLEN ' ' NLEN ' ' VHOST NAME '\n'
// OP '+' (created) or '-' (deleted); CRC 8 lowercase hex digits, the masked
// CRC32C of OP, VHOST, a NUL and NAME; VLEN/NLEN decimal byte lengths. Names
// are raw bytes (a destination may hold any), hence the lengths.
std::uint32_t record_crc(char op, std::string_view vhost, std::string_view name) {
  std::uint32_t c = store::crc32c::extend(0, &op, 1);
  c = store::crc32c::extend(c, vhost.data(), vhost.size());
  const char nul = 0;
  c = store::crc32c::extend(c, &nul, 1);
  c = store::crc32c::extend(c, name.data(), name.size());
  return store::crc32c::mask(c);
}

void encode(std::string& out, char op, std::string_view vhost, std::string_view name) {
  fmt::format_to(std::back_inserter(out), "{} {:08x} {} {} ", op, record_crc(op, vhost, name), vhost.size(),
                 name.size());
  out.append(vhost);
  out.append(name);
  out.push_back('\n');
}

// Parses the record at `pos`; advances it past the record. False: not a
// whole valid record there.
bool decode(std::string_view text, std::size_t& pos, char& op, std::string_view& vhost, std::string_view& name) {
  std::size_t p = pos;
  auto number = [&](std::uint64_t& v, int base) {
    const char* b = text.data() + p;
    const char* e = text.data() + text.size();
    auto [end, ec] = std::from_chars(b, e, v, base);
    if (ec != std::errc() || end == b || end == e || *end != ' ') return false;
    p += static_cast<std::size_t>(end - b) + 1;
    return true;
  };
  if (text.size() - p < 2 || (text[p] != '+' && text[p] != '-') || text[p + 1] != ' ') return false;
  op = text[p];
  p += 2;
  std::uint64_t crc = 0, vlen = 0, nlen = 0;
  if (!number(crc, 16) || !number(vlen, 10) || !number(nlen, 10)) return false;
  if (vlen > text.size() - p || nlen > text.size() - p - vlen || text.size() - p - vlen - nlen < 1) return false;
  vhost = text.substr(p, vlen);
  name = text.substr(p + vlen, nlen);
  p += vlen + nlen;
  if (text[p] != '\n' || record_crc(op, vhost, name) != crc) return false;
  pos = p + 1;
  return true;
}

Status write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return failure(std::strerror(errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace

QueueLog::QueueLog(std::string data_dir, bool sync)
    : path_(data_dir + "/queues.log"), dir_(std::move(data_dir)), sync_(sync) {}

QueueLog::~QueueLog() {
  if (writer_.joinable()) {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    writer_.join();
  }
  if (fd_ >= 0) ::close(fd_);
}

Result<std::string> QueueLog::open() {
  std::string text;
  {
    std::ifstream in(path_, std::ios::binary);
    if (in) {
      std::stringstream s;
      s << in.rdbuf();
      text = std::move(s).str();
    }
  }
  std::uint64_t records = 0;
  std::size_t pos = 0;
  std::set<Entry> live;
  while (pos < text.size()) {
    char op = 0;
    std::string_view vhost, name;
    if (!decode(text, pos, op, vhost, name)) break;
    ++records;
    Entry e{std::string(vhost), std::string(name)};
    if (op == '+') live.insert(std::move(e));
    else live.erase(e);
  }
  std::string cut;
  if (pos < text.size())
    cut = fmt::format("; a torn or corrupt tail was cut off at offset {} ({} bytes)", pos, text.size() - pos);
  // Compaction: one creation record per live queue. Rewritten whole (and
  // atomically) only at start-up, and only when something would shrink.
  std::string compact;
  for (const Entry& e : live) encode(compact, '+', e.first, e.second);
  if (compact.size() != text.size()) {
    if (store::IoStatus st = store::replace_file(store::Env::posix(), path_, dir_, compact, true); !st.ok())
      return failure("cannot compact " + path_ + ": " + st.to_string());
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) return failure("cannot open " + path_ + ": " + std::strerror(errno));
  if (compact.empty() && text.empty() && sync_) {
    // A new file: its directory entry must survive a crash too.
    const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
  }
  size_ = compact.size();
  entries_ = std::move(live);
  writer_ = std::thread([this] { run(); });
  return fmt::format("queues made by traffic: {} ({} records read from {}, {} bytes after compaction){}",
                     entries_.size(), records, path_, size_, cut);
}

void QueueLog::created(std::string vhost, std::string name, Done done) {
  push(Pending{'+', std::move(vhost), std::move(name), std::move(done)});
}

void QueueLog::deleted(std::string vhost, std::string name, Done done) {
  push(Pending{'-', std::move(vhost), std::move(name), std::move(done)});
}

void QueueLog::flush(Done done) { push(Pending{0, {}, {}, std::move(done)}); }

std::uint64_t QueueLog::appended() const {
  std::lock_guard lock(mu_);
  return appended_;
}

std::uint64_t QueueLog::syncs() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

void QueueLog::push(Pending p) {
  {
    std::lock_guard lock(mu_);
    if (p.op != 0) ++appended_;
    pending_.push_back(std::move(p));
  }
  cv_.notify_one();
}

void QueueLog::run() {
  std::vector<Pending> batch;
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !pending_.empty(); });
    if (pending_.empty()) break;  // stopping, nothing left
    batch.swap(pending_);
    lock.unlock();
    const Status st = write_batch(batch);
    for (Pending& p : batch)
      if (p.done) p.done(st);
    batch.clear();
    lock.lock();
    ++syncs_;
  }
}

Status QueueLog::write_batch(const std::vector<Pending>& batch) {
  std::string data;
  for (const Pending& p : batch)
    if (p.op != 0) encode(data, p.op, p.vhost, p.name);
  if (data.empty()) return {};  // flush markers only: what came before is durable already
  Status st = write_all(fd_, data);
  if (st && sync_ && ::fdatasync(fd_) != 0) st = failure(std::strerror(errno));
  if (!st) {
    // Nothing of a failed batch counts: cut back to what did (a later
    // batch must not follow a half-written record).
    (void)::ftruncate(fd_, static_cast<off_t>(size_));
    return failure("cannot write " + path_, st.error().text());
  }
  size_ += data.size();
  return {};
}

}  // namespace ferry::broker
