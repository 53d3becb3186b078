// libFuzzer target for the journal's record reader: arbitrary bytes as
// segment files, read by scan_segment() (recovery's verifier), then by a
// real Journal::open() + replay() into the broker's Recovery (the record
// decoders), read back with read_at()/scan() (paging), appended to, and
// reopened. docs/journal.md is the format.
//
// Input layout: one flags byte, then the segment bytes.
//   flags bit 0: skip_corrupt
//   flags bit 1: framed mode (below); else raw mode
//   flags bit 2: framed mode: cut the last segment short by (flags >> 3) bytes
// Raw mode: the bytes are the segment files, separated by kSegmentMarker
//   (so a seed can hold several real segment files).
// Framed mode: the target writes valid segment headers and record frames
//   (length, CRC) around the input, so mutations reach the payload decoders
//   instead of failing the checksum. Entries: op(1) length(2, LE) payload.
//   op & 0x07: record type (0 and >7 unknown; 6 = kBatch with a raw payload)
//   op & 0x40: a kBatch whose payload is itself entries (op, length, bytes)
//   op & 0x20: flip one bit of this record after framing (a corrupt record)
//   op & 0x80: start a new segment before this record
//
// Checked: nothing crashes or hangs; scan_segment's regions tile the data;
// open() either fails with a message or replays exactly the records
// scan_segment accepts (skipping corrupt middles only with skip_corrupt);
// every replayed record reads back at its (segment, offset); an append after
// recovery is replayed last on reopen.

#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>
#include <string_view>
#include <system_error>
#include <unistd.h>
#include <utility>
#include <vector>

#include "broker/durable_subscription.h"
#include "broker/message_codec.h"
#include "broker/recovery.h"
#include "store/journal.h"
#include "store/record_codec.h"
#include "store/record_format.h"
#include "store/segment_reader.h"

namespace {

using namespace ferry;
using namespace ferry::store;
namespace fs = std::filesystem;

constexpr std::string_view kSegmentMarker = "|SEG|";
constexpr std::size_t kMaxSegments = 8;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "journal_segment_fuzz: %s\n", what.c_str());
  std::abort();
}

void check(bool ok, const std::string& what) {
  if (!ok) fail(what);
}

fs::path& work_dir() {
  static fs::path dir;
  return dir;
}

std::vector<std::string> split_raw(std::string_view in) {
  std::vector<std::string> segs;
  while (segs.size() + 1 < kMaxSegments) {
    const std::size_t at = in.find(kSegmentMarker);
    if (at == std::string_view::npos) break;
    segs.emplace_back(in.substr(0, at));
    in.remove_prefix(at + kSegmentMarker.size());
  }
  segs.emplace_back(in);
  return segs;
}

// Reads op(1) length(2) payload; false at the end of the input.
bool next_entry(std::string_view& in, std::uint8_t& op, std::string_view& payload) {
  if (in.size() < 3) return false;
  op = static_cast<std::uint8_t>(in[0]);
  std::size_t n = static_cast<std::uint8_t>(in[1]) | (static_cast<std::uint8_t>(in[2]) << 8);
  in.remove_prefix(3);
  n = std::min(n, in.size());
  payload = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

std::vector<std::string> build_framed(std::string_view in, std::uint8_t flags) {
  std::vector<std::string> segs{encode_segment_header(SegmentId{1})};
  std::uint8_t op = 0;
  std::string_view payload;
  while (next_entry(in, op, payload)) {
    if ((op & 0x80) && segs.size() < kMaxSegments) segs.push_back(encode_segment_header(SegmentId{segs.size() + 1}));
    std::string& seg = segs.back();
    const std::uint32_t seal = record_seal(SegmentId{segs.size()});
    const std::size_t start = seg.size();
    if (op & 0x40) {
      std::vector<std::pair<RecordType, std::string>> entries;
      std::string_view inner = payload;
      std::uint8_t iop = 0;
      std::string_view ipayload;
      while (next_entry(inner, iop, ipayload)) {
        std::uint8_t t = iop & 0x07;
        if (t == static_cast<std::uint8_t>(RecordType::kBatch)) t = 0;  // batches do not nest
        entries.emplace_back(static_cast<RecordType>(t), std::string(ipayload));
      }
      encode_record(seg, RecordType::kBatch, encode_batch_payload(entries), seal);
    } else {
      encode_record(seg, static_cast<RecordType>(op & 0x07), payload, seal);
    }
    if ((op & 0x20) && seg.size() > start) {
      const std::size_t bit = payload.size() + op;
      seg[start + (bit / 8) % (seg.size() - start)] ^= static_cast<char>(1 << (bit % 8));
    }
  }
  if (flags & 4) {
    std::string& last = segs.back();
    last.resize(last.size() - std::min<std::size_t>(flags >> 3, last.size()));
  }
  return segs;
}

struct Seen {
  RecordType type;
  std::string payload;
  SegmentId segment;
  std::uint64_t offset;
};

// What scan_segment accepts, and whether anything in the middle is corrupt.
struct Expected {
  std::vector<Seen> records;
  bool corrupt_middle = false;  // a bad region open() must refuse without skip_corrupt
  std::vector<bool> segment_clean;
};

Expected scan_all(const std::vector<std::string>& segs) {
  Expected e;
  for (std::size_t i = 0; i < segs.size(); ++i) {
    const SegmentId id{i + 1};
    std::span<const char> data(segs[i].data(), segs[i].size());
    std::uint64_t last_end = 0;
    const SegmentScan scan = scan_segment(data, id, [&](const RecordView& r) {
      check(r.offset >= last_end && r.offset + r.size <= data.size(), "record outside the segment");
      check(r.payload.data() >= data.data() && r.payload.data() + r.payload.size() <= data.data() + data.size(),
            "payload view outside the segment");
      last_end = r.offset + r.size;
      auto add = [&](RecordType t, std::span<const char> p) {
        e.records.push_back(Seen{t, std::string(p.data(), p.size()), id, r.offset});
      };
      if (r.type == RecordType::kBatch) {
        check(for_each_batch_entry(r.payload, add), "scan accepted a malformed batch");
      } else {
        add(r.type, r.payload);
      }
    });
    check(scan.valid_end <= data.size(), "valid_end past the data");
    std::uint64_t covered = 0;
    for (const CorruptRegion& m : scan.middle) {
      check(m.offset + m.bytes <= data.size() && m.bytes > 0 && !m.why.empty(), "bad middle region");
      covered += m.bytes;
    }
    if (scan.tail) {
      check(scan.tail->offset == scan.valid_end && scan.tail->offset + scan.tail->bytes == data.size(),
            "tail region does not end the data");
      covered += scan.tail->bytes;
    }
    // Header, valid records and corrupt regions tile the data exactly (a bad
    // header is part of the first corrupt region).
    std::string why;
    const std::uint64_t header = check_segment_header(data, id, why) ? format::kSegmentHeaderBytes : 0;
    check(data.empty() || header + scan.record_bytes + covered == data.size(),
          "bytes neither valid nor reported corrupt");
    const bool last = i + 1 == segs.size();
    const bool clean = scan.middle.empty() && (!scan.tail || last);
    e.segment_clean.push_back(scan.middle.empty());
    if (!clean) e.corrupt_middle = true;
  }
  return e;
}

Result<std::unique_ptr<Journal>> open_journal(bool skip_corrupt) {
  JournalOptions o;
  o.directory = work_dir().string();
  o.fsync = FsyncPolicy::kNever;
  o.segment_size = 1 << 20;
  o.skip_corrupt = skip_corrupt;
  return Journal::open(o);
}

void run(const std::vector<std::string>& segs, bool skip_corrupt) {
  const Expected expected = scan_all(segs);

  const fs::path jdir = work_dir() / format::kJournalSubdir;
  std::error_code ec;
  fs::remove_all(jdir, ec);
  fs::create_directories(jdir);
  for (std::size_t i = 0; i < segs.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "%020zu%s", i + 1, format::kSegmentSuffix);
    std::FILE* f = std::fopen((jdir / name).c_str(), "wb");
    check(f != nullptr, "cannot write a segment file");
    check(std::fwrite(segs[i].data(), 1, segs[i].size(), f) == segs[i].size(), "short write");
    std::fclose(f);
  }

  auto opened = open_journal(skip_corrupt);
  if (!opened) {
    const std::string error = opened.error().text();
    check(!error.empty(), "open failed without a message");
    check(expected.corrupt_middle && !skip_corrupt, "open failed on a journal it must accept: " + error);
    return;
  }
  std::unique_ptr<Journal> journal = std::move(*opened);
  check(!expected.corrupt_middle || skip_corrupt, "open accepted corruption in the middle");

  // Replay into the broker's recovery, as Broker::recover() does. Every
  // record's segment is retained once more so none is deleted before the
  // read-back below.
  broker::Recovery recovery(*journal, 1024);
  std::vector<Seen> replayed;
  journal->replay([&](const ReplayedRecord& r) {
    journal->retain(r.segment);
    replayed.push_back(Seen{r.type, std::string(r.payload.data(), r.payload.size()), r.segment, r.offset});
    recovery.apply(r);
  });
  check(replayed.size() == expected.records.size(), "replay and scan_segment disagree on the record count");
  for (std::size_t i = 0; i < replayed.size(); ++i) {
    const Seen& a = replayed[i];
    const Seen& b = expected.records[i];
    check(a.type == b.type && a.payload == b.payload && a.segment == b.segment && a.offset == b.offset,
          "replay and scan_segment disagree on a record");
  }
  for (const auto& [key, sub] : recovery.subscriptions()) {
    check(broker::decode_subscription(sub.record).has_value(), "kept an undecodable subscription");
  }
  // A kept entry has its message; a paged one (beyond the body budget) has
  // only its position, which must read back as a message record.
  for (auto& [key, entries] : recovery.take_queues()) {
    for (const auto& e : entries) {
      if (e.message != nullptr) continue;
      std::uint32_t index = 0;
      const bool found = journal->read_at(e.segment, e.offset, [&](RecordType t, std::span<const char>) {
        if (index++ != e.index) return false;
        return t == RecordType::kMessage;
      });
      check(found, "a paged recovered entry does not read back at its position");
    }
  }

  // Paging reads: every record is found again where replay saw it.
  for (const Seen& s : replayed) {
    auto same = [&](RecordType t, std::span<const char> p) {
      return t == s.type && std::string_view(p.data(), p.size()) == s.payload;
    };
    check(journal->read_at(s.segment, s.offset, same), "read_at misses a replayed record");
    // scan() stops at the first bad record: it finds everything only in a
    // segment without corrupt regions.
    if (expected.segment_clean[s.segment.value - 1]) {
      check(journal->scan(s.segment, same), "scan misses a replayed record");
    }
  }

  // Appending after recovery lands after the last valid record.
  const std::string marker = "fuzz marker";
  std::promise<bool> appended;
  journal->append(RecordType::kCheckpoint, std::span<const char>(marker.data(), marker.size()),
                  [&](const AppendResult& r) { appended.set_value(r.ok); });
  check(appended.get_future().get(), "append after recovery failed");
  journal->close();
  journal.reset();

  auto reopened = open_journal(skip_corrupt);
  check(reopened.ok(), "reopen failed: " + (reopened ? std::string() : reopened.error().text()));
  journal = std::move(*reopened);
  Seen last{RecordType::kAck, "", SegmentId{0}, 0};
  journal->replay([&](const ReplayedRecord& r) {
    last = Seen{r.type, std::string(r.payload.data(), r.payload.size()), r.segment, r.offset};
  });
  check(last.type == RecordType::kCheckpoint && last.payload == marker, "the append is not the last record on reopen");
  journal->close();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // recovery reports every bad record
  // tmpfs when there is one: the journal's files and syncs cost little there.
  fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  std::string tmpl = (base / "ferry-journal-fuzz-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) fail("mkdtemp failed");
  work_dir() = tmpl;
  std::atexit([] {
    std::error_code ec;
    fs::remove_all(work_dir(), ec);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t flags = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::vector<std::string> segs = (flags & 2) ? build_framed(rest, flags) : split_raw(rest);
  run(segs, (flags & 1) != 0);
  return 0;
}
