// libFuzzer target for the stream partition log's readers: arbitrary bytes
// as segment and index files, checked by the pure decoders (check_batch,
// for_each_entry, SegmentIndex::decode), then opened as a real partition
// (recovery), read back by every kind of position, trimmed by retention,
// appended to and reopened. docs/streams.md is the format.
//
// Input layout: one flags byte, then the rest.
//   flags bit 0: framed mode (below); else raw mode
//   flags bits 1..7: framed mode: how many mutations to apply (see below)
// Raw mode: the rest is up to kMaxFiles parts separated by kFileMarker;
//   each part is kind(1: 'L' log, 'I' offset index, 'T' time index, other
//   = log), base offset(2, little-endian), then the file's bytes.
// Framed mode: a real partition is written from the input (entries: key
//   length(1) body length(1) timestamp step(1) then key and body bytes;
//   a step of 0xFF closes the batch), then the mutations: each takes
//   file index(1) position(2) byte(1) and XORs that byte into that file
//   (a position of 0xFFFF truncates the file to half instead). So valid
//   batches and indexes reach the decoders, with damage in chosen places.
//
// Checked: nothing crashes or hangs; an accepted batch decodes to exactly
// its count; a decoded index answers lookups inside its segment; open()
// either fails with an Error or yields a log whose reads (from first, last,
// next, every offset, timestamps) return contiguous offsets up to the end
// offset or an Error; a follower's cut at the last batch ends the log
// there; an append after recovery gets the end offset and is found there
// after reopening.

#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <unistd.h>
#include <vector>

#include "stream/batch_codec.h"
#include "stream/partition_log.h"
#include "stream/segment_file.h"
#include "stream/segment_index.h"
#include "stream/stream_reader.h"

namespace {

using namespace ferry;
using namespace ferry::stream;
namespace fs = std::filesystem;

constexpr std::string_view kFileMarker = "|FILE|";
constexpr std::size_t kMaxFiles = 8;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "stream_segment_fuzz: %s\n", what.c_str());
  std::abort();
}

void check(bool ok, const std::string& what) {
  if (!ok) fail(what);
}

fs::path& work_dir() {
  static fs::path dir;
  return dir;
}

PartitionOptions fuzz_options() {
  PartitionOptions o;
  o.directory = (work_dir() / "p").string();
  o.max_segment_bytes = 512;
  o.index_interval_bytes = 64;
  o.max_open_files = 2;
  o.fsync = store::FsyncPolicy::kNever;
  o.clock = [] { return std::int64_t{1'700'000'000'000}; };
  return o;
}

void write_file(const fs::path& p, std::string_view bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The pure decoders on one file's bytes.
void check_decoders(std::string_view bytes) {
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    BatchHeader h;
    std::string why;
    const std::span<const char> rest(bytes.data() + pos, bytes.size() - pos);
    if (!check_batch(rest, format::kMaxBatchBytesLimit, h, why)) {
      ++pos;  // look for the next batch anywhere
      continue;
    }
    std::uint32_t n = 0;
    check(for_each_entry(rest, h, [&](const EntryView& e) {
            check(e.offset.value == h.base.value + n, "entry offsets");
            ++n;
            return true;
          }),
          "an accepted batch's entries decode");
    check(n == h.count, "an accepted batch has its count");
    pos += static_cast<std::size_t>(h.size);
  }
  auto idx = SegmentIndex::decode(bytes, bytes, StreamOffset{0}, bytes.size(), 64);
  (void)idx;
}

void check_index(std::string_view of, std::string_view tf, std::uint64_t log_bytes) {
  auto idx = SegmentIndex::decode(of, tf, StreamOffset{16}, log_bytes, 64);
  if (!idx.ok()) return;
  for (std::uint64_t o = 0; o < 64; ++o) {
    const auto hit = idx->lookup_offset(StreamOffset{o});
    check(hit.position >= format::kSegmentHeaderBytes && hit.position < log_bytes, "index position in range");
    check(hit.offset.value >= 16 && (idx->empty() || hit.offset < idx->next()), "index offset in range");
  }
  (void)idx->lookup_time(0);
  (void)idx->lookup_time(INT64_MAX);
}

void build_raw(std::string_view in) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < kMaxFiles) {
    const std::size_t at = in.find(kFileMarker);
    if (at == std::string_view::npos) break;
    parts.push_back(in.substr(0, at));
    in.remove_prefix(at + kFileMarker.size());
  }
  parts.push_back(in);
  for (std::string_view p : parts) {
    if (p.size() < 3) continue;
    const char kind = p[0];
    const StreamOffset base{std::uint64_t{static_cast<std::uint8_t>(p[1])} | (std::uint64_t{static_cast<std::uint8_t>(p[2])} << 8)};
    const std::string_view bytes = p.substr(3);
    check_decoders(bytes);
    const SegmentFileKind k = kind == 'I'   ? SegmentFileKind::kOffsetIndex
                              : kind == 'T' ? SegmentFileKind::kTimeIndex
                                            : SegmentFileKind::kLog;
    write_file(work_dir() / "p" / segment_file_name(base, k), bytes);
  }
  if (parts.size() >= 2) check_index(parts[0], parts[1], 4096);
}

void build_framed(std::string_view in, unsigned mutations) {
  {
    auto log = PartitionLog::open(fuzz_options());
    check(log.ok(), "an empty partition opens");
    std::vector<StreamEntry> batch;
    std::int64_t ts = 1'600'000'000'000;
    while (in.size() >= 3 + 4 * mutations) {
      const std::size_t klen = static_cast<std::uint8_t>(in[0]) % 8;
      const std::size_t blen = static_cast<std::uint8_t>(in[1]);
      const auto step = static_cast<std::uint8_t>(in[2]);
      in.remove_prefix(3);
      StreamEntry e;
      if (klen > 0) e.key = std::string(in.substr(0, std::min(klen - 1, in.size())));
      in.remove_prefix(std::min(klen > 0 ? klen - 1 : 0, in.size()));
      e.body = std::string(in.substr(0, std::min(blen, in.size())));
      in.remove_prefix(std::min(blen, in.size()));
      ts += step;
      e.timestamp_ms = ts;
      if (klen == 7) e.headers.emplace_back("h", "v");
      batch.push_back(std::move(e));
      if (step == 0xFF || batch.size() == 8) {
        check((*log)->append(batch, nullptr).ok(), "a bounded append succeeds");
        batch.clear();
      }
    }
    if (!batch.empty()) check((*log)->append(batch, nullptr).ok(), "a bounded append succeeds");
    check((*log)->sync().ok(), "sync");
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(work_dir() / "p")) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (unsigned m = 0; m < mutations && in.size() >= 4 && !files.empty(); ++m) {
    const fs::path& f = files[static_cast<std::uint8_t>(in[0]) % files.size()];
    const std::size_t pos = static_cast<std::uint8_t>(in[1]) | (static_cast<std::uint8_t>(in[2]) << 8);
    const char x = in[3];
    in.remove_prefix(4);
    std::error_code ec;
    const auto size = fs::file_size(f, ec);
    if (ec || size == 0) continue;
    if (pos == 0xFFFF) {
      fs::resize_file(f, size / 2, ec);
      continue;
    }
    std::fstream io(f, std::ios::binary | std::ios::in | std::ios::out);
    io.seekg(static_cast<std::streamoff>(pos % size));
    char c = 0;
    io.get(c);
    io.seekp(static_cast<std::streamoff>(pos % size));
    io.put(static_cast<char>(c ^ (x == 0 ? 1 : x)));
  }
}

// Reads from `spec` to the end: contiguous offsets, or an Error.
void read_through(PartitionLog& log, const OffsetSpec& spec, std::size_t max_bytes, std::size_t max_entries) {
  auto reader = StreamReader::open(log, spec);
  if (!reader.ok()) return;
  std::uint64_t expect = reader->next_offset().value;
  check(expect >= log.first_offset().value && expect <= log.end_offset().value, "a resolved position is in range");
  for (int guard = 0; guard < 100000; ++guard) {
    auto r = reader->read(max_bytes, max_entries);
    if (!r.ok() || r->empty()) {
      if (r.ok()) check(reader->next_offset() == log.end_offset(), "an empty read is at the end");
      return;
    }
    check(r->from.value == expect, "reads continue where they stopped");
    check(r->entries() <= max_entries, "max_entries holds");
    r->for_each([&](const EntryView& e) {
      check(e.offset.value == expect, "contiguous offsets");
      ++expect;
      return true;
    });
    check(r->next.value == expect, "a read visits [from, next)");
  }
  fail("a reader never reached the end");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // recovery reports every cut
  fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  std::string tmpl = (base / "ferry-stream-fuzz-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) fail("mkdtemp failed");
  work_dir() = tmpl;
  std::atexit([] {
    std::error_code ec;
    fs::remove_all(work_dir(), ec);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1 || size > (1 << 16)) return 0;
  std::error_code ec;
  fs::remove_all(work_dir() / "p", ec);
  fs::create_directories(work_dir() / "p");
  const auto flags = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (flags & 1) {
    build_framed(in, flags >> 1);
  } else {
    build_raw(in);
  }

  std::uint64_t end = 0;
  {
    auto opened = PartitionLog::open(fuzz_options());
    if (!opened.ok()) return 0;  // refused, with an Error: fine
    PartitionLog& log = **opened;
    check(log.first_offset() <= log.end_offset(), "first <= end");
    check(log.end_offset() == log.written_end(), "recovery commits what it keeps");
    read_through(log, OffsetSpec::first(), 1 << 20, 1000);
    read_through(log, OffsetSpec::first(), 1, 1);
    read_through(log, OffsetSpec::last(), 300, 3);
    read_through(log, OffsetSpec::next(), 300, 3);
    for (std::uint64_t o = log.first_offset().value; o <= log.end_offset().value && o < log.first_offset().value + 64; ++o)
      read_through(log, OffsetSpec::offset(StreamOffset{o}), 200, 5);
    for (std::int64_t t : {std::int64_t{0}, std::int64_t{1'600'000'000'100}, std::int64_t{1'600'000'010'000}, INT64_MAX})
      read_through(log, OffsetSpec::timestamp(t), 1 << 20, 1000);
    (void)log.apply_retention(2'000'000'000'000);
    check(log.segment_count() >= 1, "retention keeps the active segment");
    // The last batch's start is a batch boundary: a follower's cut there
    // leaves everything before it.
    if (auto last = log.resolve(OffsetSpec::last()); last.ok() && last->next < log.end_offset()) {
      const StreamOffset cut = last->next;
      if (log.truncate_to(cut).ok()) {
        check(log.end_offset() == cut && log.written_end() == cut, "a cut ends the log there");
        read_through(log, OffsetSpec::first(), 1 << 20, 1000);
      }
    }
    end = log.end_offset().value;
    StreamEntry e;
    e.body = "after recovery";
    auto t = log.append(std::vector{e}, nullptr);
    if (!t.ok()) return 0;
    check(t->first.value == end, "an append after recovery gets the end offset");
    check(log.sync().ok(), "sync after recovery");
  }
  auto again = PartitionLog::open(fuzz_options());
  check(again.ok(), "a recovered partition reopens");
  check((*again)->end_offset().value == end + 1, "the append survives a reopen");
  auto pos = (*again)->resolve(OffsetSpec::offset(StreamOffset{end}));
  check(pos.ok(), "the append is found");
  auto r = (*again)->read(*pos, 1 << 20, 1);
  check(r.ok() && r->entries() == 1, "the append reads back");
  r->for_each([&](const EntryView& v) {
    check(v.body == "after recovery", "the append's body");
    return true;
  });
  return 0;
}
