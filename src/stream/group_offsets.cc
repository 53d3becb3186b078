#include "stream/group_offsets.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <utility>

#include "store/replace_file.h"

namespace ferry::stream {

namespace {

constexpr std::string_view kFirstLine = "ferry-stream-offsets 1";
constexpr std::size_t kMaxFileBytes = 64u << 20;  // far above any table max-stream-groups allows

bool plain(char c) { return c > ' ' && c <= '~' && c != '%'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Error corrupt(std::size_t line, std::string_view why) {
  return failure("corrupt group offsets", fmt::format("line {}: {}", line, why));
}

}  // namespace

std::string encode_group_offsets(const GroupOffsets& offsets) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out(kFirstLine);
  out += '\n';
  for (const auto& [name, offset] : offsets) {
    out += std::to_string(offset.value);
    out += ' ';
    for (char c : name) {
      if (plain(c)) {
        out += c;
      } else {
        const auto b = static_cast<unsigned char>(c);
        out += '%';
        out += kHex[b >> 4];
        out += kHex[b & 15];
      }
    }
    out += '\n';
  }
  return out;
}

Result<GroupOffsets> decode_group_offsets(std::string_view text) {
  GroupOffsets out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    // Every line ends with '\n': a last line without one is a cut file.
    if (nl == std::string_view::npos) return corrupt(line_no, "no end of line");
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (line_no == 1) {
      if (line != kFirstLine) return corrupt(1, "not a group offsets file");
      continue;
    }
    const std::size_t sp = line.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp + 1 == line.size()) return corrupt(line_no, "expected '<offset> <name>'");
    std::uint64_t offset = 0;
    auto [p, ec] = std::from_chars(line.data(), line.data() + sp, offset);
    if (ec != std::errc() || p != line.data() + sp) return corrupt(line_no, "bad offset");
    std::string name;
    for (std::size_t i = sp + 1; i < line.size(); ++i) {
      const char c = line[i];
      if (plain(c)) {
        name += c;
        continue;
      }
      if (c != '%' || i + 2 >= line.size()) return corrupt(line_no, "bad byte in a name");
      const int hi = hex_value(line[i + 1]), lo = hex_value(line[i + 2]);
      if (hi < 0 || lo < 0) return corrupt(line_no, "bad escape in a name");
      name += static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (!out.emplace(std::move(name), StreamOffset{offset}).second) return corrupt(line_no, "a group twice");
  }
  if (line_no == 0) return corrupt(1, "empty file");
  return out;
}

GroupOffsetFile::GroupOffsetFile(store::Env& env, std::string directory)
    : env_(env), directory_(std::move(directory)), path_(directory_ + "/group-offsets") {}

Result<GroupOffsets> GroupOffsetFile::load() {
  std::unique_ptr<store::File> f;
  if (auto st = env_.open_file(path_, false, f); !st.ok()) {
    if (st.code == ENOENT) return GroupOffsets{};
    return failure("cannot read group offsets", st.to_string());
  }
  std::uint64_t size = 0;
  if (auto st = f->size(size); !st.ok()) return failure("cannot read group offsets", st.to_string());
  if (size > kMaxFileBytes) return failure("corrupt group offsets", fmt::format("{}: {} bytes", path_, size));
  std::string text(size, '\0');
  std::size_t got = 0;
  if (auto st = f->read_at(0, std::span<char>(text.data(), text.size()), got); !st.ok())
    return failure("cannot read group offsets", st.to_string());
  text.resize(got);
  auto decoded = decode_group_offsets(text);
  if (!decoded) return failure(decoded.error().message, fmt::format("{}: {}", path_, decoded.error().detail));
  return decoded;
}

bool GroupOffsetFile::submit(std::string table, Done done) {
  std::lock_guard lk(mutex_);
  pending_ = std::move(table);
  has_pending_ = true;
  if (done) waiting_.push_back(std::move(done));
  if (queued_) return false;
  queued_ = true;
  return true;
}

void GroupOffsetFile::write_pending() {
  for (;;) {
    std::string table;
    std::vector<Done> waiting;
    {
      std::lock_guard lk(mutex_);
      if (!has_pending_) {
        queued_ = false;
        return;
      }
      table = std::move(pending_);
      waiting = std::move(waiting_);
      pending_.clear();
      waiting_.clear();
      has_pending_ = false;
    }
    Status result;
    if (auto st = store::replace_file(env_, path_, directory_, std::span<const char>(table.data(), table.size()), true);
        !st.ok())
      result = failure("cannot write group offsets", st.to_string());
    for (auto& d : waiting) d(result);
  }
}

}  // namespace ferry::stream
