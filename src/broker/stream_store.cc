#include "broker/stream_store.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <span>

#include "broker/broker.h"
#include "broker/shard_broker.h"
#include "common/clock.h"
#include "common/log.h"
#include "store/replace_file.h"
#include "stream/stream_format.h"

namespace ferry::broker {

namespace {

constexpr std::size_t kMaxComponentBytes = 240;  // under NAME_MAX (255) with room to spare

bool plain(char c, bool first) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= '0' && c <= '9') return true;
  if (c == '_' || c == '-') return true;
  return c == '.' && !first;  // never ".", "..", or a hidden name
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The stream arguments a SEND (or a transaction's SENDs) declares: every
// argument header of every message, a later one overriding an earlier.
// publish and publish_batch read them the same way through this.
Result<StreamArguments> arguments_of(std::span<const MessageRef> messages) {
  StreamArguments args;
  for (const MessageRef& m : messages)
    for (const auto& [k, v] : m->headers)
      if (StreamArguments::is_argument(k))
        if (Status st = args.set(k, v); !st) return st.error();
  return args;
}

void answer(Broker& broker, const OpTicket& t, Outcome o) {
  broker.to_client(t.shard, [t, o = std::move(o)](ClientEvents& ev) mutable {
    ev.complete(t.connection, t.op, std::move(o));
  });
}

}  // namespace

std::optional<std::string> StreamStore::escape_name(std::string_view name) {
  if (name.empty()) return std::nullopt;
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(name.size());
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (plain(c, i == 0)) {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
    if (out.size() > kMaxComponentBytes) return std::nullopt;
  }
  return out;
}

std::optional<std::string> StreamStore::unescape_name(std::string_view component) {
  std::string out;
  for (std::size_t i = 0; i < component.size(); ++i) {
    if (component[i] != '%') {
      out += component[i];
      continue;
    }
    if (i + 2 >= component.size()) return std::nullopt;
    const int hi = hex_value(component[i + 1]), lo = hex_value(component[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  // Only the one spelling escape_name() makes is a stream directory.
  if (escape_name(out) != std::string(component)) return std::nullopt;
  return out;
}

StreamStore::StreamStore(ShardId self, Broker& broker, const StreamOptions& options,
                         stream::StreamCommitter* committer, QueueCounts& counts)
    : self_(self), broker_(broker), options_(options), committer_(committer), counts_(counts) {}

StreamStore::~StreamStore() {
  compactor_.reset();  // a compaction in progress ends first; queued ones are dropped
  readers_.clear();
  for (auto& [key, s] : streams_) {
    // The committer must not sync a log being destroyed; close() commits
    // what is pending itself (its completions answer connections that are
    // gone by now, harmlessly).
    for (auto& p : s->partitions) {
      if (committer_ != nullptr) committer_->forget(*p.log);
      p.log->close();
    }
  }
}

Result<std::string> StreamStore::directory_of(const Destination& d) const {
  if (options_.directory.empty()) return failure("streams are not available", "the broker has no data directory");
  auto vhost = escape_name(d.vhost);
  auto name = escape_name(d.name);
  if (!vhost || !name)
    return failure("invalid stream name", fmt::format("'{}' (at most 240 bytes once escaped for the file system)",
                                                      d.name.substr(0, 64)));
  return options_.directory + "/" + *vhost + "/" + *name + "/0";
}

namespace {

constexpr const char* kArgumentsFile = "/arguments";

// <stream directory>/arguments: empty arguments when there is none.
Result<StreamArguments> load_arguments(const std::string& stream_dir) {
  const std::string path = stream_dir + kArgumentsFile;
  std::unique_ptr<store::File> f;
  if (auto st = store::Env::posix().open_file(path, false, f); !st.ok()) {
    if (st.code == ENOENT) return StreamArguments{};
    return failure("cannot read stream arguments", st.to_string());
  }
  std::uint64_t size = 0;
  if (auto st = f->size(size); !st.ok()) return failure("cannot read stream arguments", st.to_string());
  std::string text(std::min<std::uint64_t>(size, 1u << 16), '\0');
  std::size_t got = 0;
  if (auto st = f->read_at(0, std::span<char>(text.data(), text.size()), got); !st.ok())
    return failure("cannot read stream arguments", st.to_string());
  text.resize(got);
  auto a = StreamArguments::decode(text);
  if (!a) return failure(a.error().message, path + ": " + a.error().detail);
  return a;
}

}  // namespace

StreamStore::Cursor* StreamStore::Reader::cursor_of(std::uint32_t partition) {
  for (Cursor& c : cursors)
    if (c.partition == partition) return &c;
  return nullptr;
}

bool StreamStore::Stream::known_group(const std::string& name) const {
  for (const Partition& p : partitions)
    if (p.committed.contains(name)) return true;
  return false;
}

std::size_t StreamStore::Stream::group_count() const {
  std::set<std::string_view> names;
  for (const Partition& p : partitions)
    for (const auto& [name, offset] : p.committed) names.insert(name);
  for (const auto& [name, g] : groups) names.insert(name);
  return names.size();
}

Result<StreamStore::Stream*> StreamStore::stream_for(const Destination& d, bool create, const StreamArguments* args) {
  if (auto it = streams_.find(key_of(d)); it != streams_.end()) {
    if (args != nullptr)
      if (auto differs = StreamArguments::mismatch(*args, it->second->arguments, d)) return failure(*differs);
    return it->second.get();
  }
  auto dir = directory_of(d);
  if (!dir) return dir.error();
  const std::string stream_dir = dir->substr(0, dir->size() - 2);  // without "/0"
  std::error_code ec;
  const bool on_disk = std::filesystem::exists(*dir, ec);
  if (!on_disk && !create) return failure("no such stream", d.to_string());
  StreamArguments declared;
  if (on_disk) {
    auto loaded = load_arguments(stream_dir);
    if (!loaded) return loaded.error();
    declared = std::move(*loaded);
    if (args != nullptr)
      if (auto differs = StreamArguments::mismatch(*args, declared, d)) return failure(*differs);
  } else if (args != nullptr && !args->empty()) {
    declared = *args;
    // A stream on disk keeps the count it was made with, whatever the
    // option says now; only a new declaration is bounded.
    if (declared.partition_count() > options_.max_partitions)
      return failure("invalid stream argument",
                     fmt::format("x-stream-partitions: {} is more than max-stream-partitions ({})",
                                 declared.partition_count(), options_.max_partitions));
  }
  const bool limited = !on_disk;  // a stream already on disk is not a new one
  if (limited && !counts_.try_add(d.vhost))
    return failure("too many streams",
                   fmt::format("vhost '{}' has max-streams ({}) streams; {} not created", d.vhost, counts_.limit(),
                               d.to_string()));
  if (!limited) counts_.add(d.vhost);
  if (!on_disk && declared.empty()) {
    // A declaration whose partition was never made (a crash in between)
    // must not apply to this undeclared stream after a restart.
    (void)store::Env::posix().remove_file(stream_dir + kArgumentsFile);
  } else if (!on_disk) {
    // Before the partition exists: a stream on disk always has the
    // arguments it was declared with (a crash in between leaves a
    // directory without a partition, not a stream).
    const std::string text = declared.encode();
    store::IoStatus st = store::Env::posix().create_dirs(stream_dir);
    if (st.ok())
      st = store::replace_file(store::Env::posix(), stream_dir + kArgumentsFile, stream_dir,
                               std::span<const char>(text.data(), text.size()), true);
    if (!st.ok()) {
      counts_.remove(d.vhost);
      return failure("cannot write stream arguments", st.to_string());
    }
  }
  auto s = std::make_unique<Stream>();
  s->destination = d;
  s->wake = std::make_shared<Wake>();
  s->wake->key = key_of(d);
  stream::PartitionOptions o;
  o.max_segment_bytes = options_.max_segment_bytes;
  o.max_entry_bytes = std::min<std::uint32_t>(std::max<std::uint32_t>(options_.max_entry_bytes, 1024),
                                              stream::format::kMaxBatchBytesLimit / 2);
  o.max_batch_bytes = std::max<std::uint32_t>(
      o.max_batch_bytes, o.max_entry_bytes + static_cast<std::uint32_t>(stream::format::kBatchHeaderBytes));
  o.fsync = options_.fsync;
  o.max_segment_bytes = declared.max_segment_bytes.value_or(options_.max_segment_bytes);
  o.retention.max_bytes = declared.max_length_bytes.value_or(options_.max_length_bytes);
  o.retention.max_age_ms = declared.max_age ? declared.max_age_ms : options_.max_age_ms;
  if (!declared.retained()) o.retention.max_bytes = 0, o.retention.max_age_ms = 0;  // cleanup.policy=compact alone
  o.retention.compact = declared.compacted();
  o.compaction_buffer_bytes = options_.compaction_buffer_bytes;
  if (declared.delete_retention_ms)
    o.retention.delete_retention_ms = static_cast<std::int64_t>(*declared.delete_retention_ms);
  s->arguments = declared;
  s->retention = o.retention.max_bytes != 0 || o.retention.max_age_ms != 0;
  s->compact = o.retention.compact;
  if (s->compact && !compactor_) compactor_ = std::make_unique<stream::StreamCompactor>([] { return wall_ms(); });
  // From the committer's thread: one wake-up task at a time per stream
  // (whichever partition committed: the readers look at all theirs).
  Broker* broker = &broker_;
  const ShardId self = self_;
  std::shared_ptr<Wake> wake = s->wake;
  o.on_commit = [broker, self, wake](stream::StreamOffset) {
    if (wake->posted.exchange(true)) return;
    broker->post(self, [broker, self, wake] {
      wake->posted.store(false);
      broker->local(self).streams().on_commit(wake->key);
    });
  };
  const std::uint32_t count = declared.partition_count();
  s->partitions.resize(count);
  auto close_partitions = [](stream::StreamCommitter* committer, std::vector<Partition>& parts) {
    for (auto& p : parts) {
      if (!p.log) continue;
      if (committer != nullptr) committer->forget(*p.log);
      p.log->close();
    }
  };
  for (std::uint32_t p = 0; p < count; ++p) {
    // Partition p is <stream directory>/<p>. Partitions after 0 are made
    // here when missing (a crash after 0 was made: they had no entry).
    const std::string pdir = stream_dir + "/" + std::to_string(p);
    o.directory = pdir;
    auto log = stream::PartitionLog::open(o);
    if (!log) {
      close_partitions(committer_, s->partitions);
      counts_.remove(d.vhost);
      return log.error();
    }
    Partition& part = s->partitions[p];
    part.log = std::move(*log);
    // The groups' committed offsets: partition 0's beside the partitions
    // (<vhost>/<name>/group-offsets, as before streams had partitions),
    // partition p's in its own directory (<vhost>/<name>/<p>/group-offsets).
    part.offsets_file = std::make_shared<stream::GroupOffsetFile>(store::Env::posix(), p == 0 ? stream_dir : pdir);
    auto committed = part.offsets_file->load();
    if (!committed) {
      close_partitions(committer_, s->partitions);
      counts_.remove(d.vhost);
      return committed.error();
    }
    part.committed = std::move(*committed);
    if (part.log->recovery().truncated_bytes != 0 || part.log->recovery().indexes_rebuilt != 0)
      spdlog::warn("stream {} (vhost {}) partition {}: {}", log_safe(d.to_string()), log_safe(d.vhost), p,
                   log_safe(part.log->recovery().report));
  }
  // Sticky batches of keyless SENDs: enough to share one group commit.
  if (count > 1) s->sticky.emplace(count, kStickyEntries);
  if (!on_disk)
    spdlog::debug("stream {} created (vhost {}, {} partitions)", log_safe(d.to_string()), log_safe(d.vhost), count);
  Stream* raw = s.get();
  streams_.emplace(key_of(d), std::move(s));
  return raw;
}

Status StreamStore::open_existing(const Destination& d) {
  auto s = stream_for(d, false);
  if (!s) return s.error();
  return {};
}

void StreamStore::publish(const Destination& d, const MessageRef& m, OpTicket ticket, bool may_create) {
  if (!may_create && !streams_.contains(key_of(d))) {
    auto dir = directory_of(d);
    std::error_code ec;
    if (!dir || !std::filesystem::exists(*dir, ec)) return answer(broker_, ticket, Outcome::not_created(d.to_string()));
  }
  auto args = arguments_of(std::span<const MessageRef>(&m, 1));
  if (!args) return answer(broker_, ticket, Outcome::failure(args.error().text()));
  auto s = stream_for(d, true, args->empty() ? nullptr : &*args);
  if (!s) return answer(broker_, ticket, Outcome::failure(s.error().text()));
  Stream& st = **s;
  std::uint32_t p = 0;
  stream::StreamEntry e = entry_of(st, *m, p);
  if (StreamReplication* repl = broker_.stream_replication(); repl != nullptr && !st.partitioned() && repl->replicated(d)) {
    // Replicated: through the log only; the local stream gets it when the
    // log commits it (apply_replicated), here as on every replica. The
    // timestamp is the leader's, so every replica stores the same entry.
    if (e.timestamp_ms == 0) e.timestamp_ms = wall_ms();
    Broker* broker = &broker_;
    repl->append(d, e, [broker, ticket](Status st) {
      answer(*broker, ticket, st ? Outcome::success() : Outcome::failure(st.error().text()));
    });
    return;
  }
  stream::PartitionLog& log = *st.partitions[p].log;
  Broker* broker = &broker_;
  auto appended = log.append(std::span<const stream::StreamEntry>(&e, 1),
                             [broker, ticket](const stream::CommitResult& r) {
                               // On the committer's thread: the answer goes to the producer's shard.
                               answer(*broker, ticket, r.ok ? Outcome::success() : Outcome::failure(r.error));
                             });
  if (!appended) return answer(broker_, ticket, Outcome::failure(appended.error().text()));
  if (committer_ != nullptr) committer_->notify(log);
}

void StreamStore::apply_replicated(const Destination& d, std::uint64_t offset, stream::StreamEntry e) {
  auto s = stream_for(d, true);
  if (!s) {
    spdlog::error("stream {}: replicated entry {} not written: {}", log_safe(d.to_string()), offset, s.error().text());
    return;
  }
  stream::PartitionLog& log = *(*s)->partitions[0].log;
  const std::uint64_t end = log.written_end().value;
  if (offset < end) return;  // had it already
  if (offset > end) {
    // A gap: this stream lacks entries the log committed before (its files
    // were lost while the log kept them). Said, not papered over.
    spdlog::error("stream {}: replicated entry {} after a gap (the stream ends at {})", log_safe(d.to_string()), offset, end);
    return;
  }
  auto appended = log.append(std::span<const stream::StreamEntry>(&e, 1), [](const stream::CommitResult&) {});
  if (!appended) {
    spdlog::error("stream {}: replicated entry {} not written: {}", log_safe(d.to_string()), offset, appended.error().text());
    return;
  }
  if (committer_ != nullptr) committer_->notify(log);
}

stream::StreamEntry StreamStore::entry_of(Stream& st, const Message& m, std::uint32_t& partition) {
  stream::StreamEntry e;
  e.body = m.body;
  e.headers.reserve(m.headers.size());
  for (const auto& [k, v] : m.headers) {
    // Set per delivery, never stored (a MESSAGE sent on keeps neither).
    if (k == "x-stream-offset" || StreamArguments::is_argument(k)) continue;  // declarations are not data
    if (k == "partition" && st.partitioned()) continue;
    if (k == "transaction") continue;  // the producer's, gone with its COMMIT
    e.headers.emplace_back(k, v);
    if (!e.key && (k == "partition-key" || k == "key")) e.key = v;
  }
  // A key picks its partition as Kafka's default partitioner does (order
  // per key holds); keyless entries go in sticky batches.
  partition = 0;
  if (st.partitioned())
    partition = e.key ? stream::partition_for_key(*e.key, static_cast<std::uint32_t>(st.partitions.size()))
                      : st.sticky->next();
  return e;
}

void StreamStore::publish_batch(const Destination& d, const std::vector<MessageRef>& messages, OpTicket ticket) {
  auto args = arguments_of(messages);
  if (!args) return answer(broker_, ticket, Outcome::failure(args.error().text()));
  auto s = stream_for(d, true, args->empty() ? nullptr : &*args);
  if (!s) return answer(broker_, ticket, Outcome::failure(s.error().text()));
  Stream& st = **s;
  std::vector<std::vector<stream::StreamEntry>> by_partition(st.partitions.size());
  for (const MessageRef& m : messages) {
    std::uint32_t p = 0;
    stream::StreamEntry e = entry_of(st, *m, p);
    by_partition[p].push_back(std::move(e));
  }
  struct Join {
    std::atomic<std::size_t> left{0};
    std::mutex mutex;
    std::optional<std::string> error;
  };
  auto join = std::make_shared<Join>();
  std::size_t batches = 0;
  for (const auto& entries : by_partition)
    if (!entries.empty()) ++batches;
  if (batches == 0) return answer(broker_, ticket, Outcome::success());
  join->left = batches;
  Broker* broker = &broker_;
  auto finish = [broker, ticket, join](std::optional<std::string> failed) {
    if (failed) {
      std::lock_guard lock(join->mutex);
      if (!join->error) join->error = std::move(failed);
    }
    if (join->left.fetch_sub(1) != 1) return;
    std::optional<std::string> error;
    {
      std::lock_guard lock(join->mutex);
      error = join->error;
    }
    answer(*broker, ticket, error ? Outcome::failure(*error) : Outcome::success());
  };
  for (std::uint32_t p = 0; p < by_partition.size(); ++p) {
    if (by_partition[p].empty()) continue;
    stream::PartitionLog& log = *st.partitions[p].log;
    // One batch: all of this partition's entries, or (a refused or torn
    // write) none of them.
    auto appended = log.append(std::span<const stream::StreamEntry>(by_partition[p]),
                               [finish](const stream::CommitResult& r) {
                                 finish(r.ok ? std::nullopt : std::optional<std::string>(r.error));
                               });
    if (!appended) {
      finish(appended.error().text());
      continue;
    }
    if (committer_ != nullptr) committer_->notify(log);
  }
}

Result<StreamStore::Cursor> StreamStore::open_cursor(Reader& r, std::uint32_t partition) {
  Partition& part = r.stream->partitions[partition];
  auto committed = r.group != nullptr ? part.committed.find(r.group->name) : part.committed.end();
  auto pos = part.log->resolve(committed != part.committed.end() ? stream::OffsetSpec::offset(committed->second)
                                                                 : r.start);
  if (!pos) return pos.error();
  Cursor c;
  c.partition = partition;
  c.position = *pos;
  return c;
}

void StreamStore::subscribe(const Destination& d, const ConsumerKey& key, AckMode mode, Window window,
                            const stream::OffsetSpec& start, const std::string& group,
                            const StreamArguments& args, OpTicket ticket, bool may_create,
                            std::optional<std::uint32_t> partition) {
  if (!may_create && !streams_.contains(key_of(d))) {
    auto dir = directory_of(d);
    std::error_code ec;
    if (!dir || !std::filesystem::exists(*dir, ec)) return answer(broker_, ticket, Outcome::not_created(d.to_string()));
  }
  auto s = stream_for(d, true, args.empty() ? nullptr : &args);
  if (!s) return answer(broker_, ticket, Outcome::failure(s.error().text()));
  Stream& st = **s;
  if (partition && *partition >= st.partitions.size())
    return answer(broker_, ticket,
                  Outcome::failure(fmt::format("invalid stream partition: {} has partitions 0 to {}; got {}",
                                               d.to_string(), st.partitions.size() - 1, *partition)));
  if (partition && !group.empty())
    return answer(broker_, ticket,
                  Outcome::failure("invalid stream partition: a group's members are given their partitions "
                                   "(leave out partition, or group)"));
  Group* g = nullptr;
  if (!group.empty()) {
    auto it = st.groups.find(group);
    if (it == st.groups.end()) {
      // A group counts against max-stream-groups once it exists: it has
      // members now or a committed offset on disk.
      if (!st.known_group(group) && options_.max_groups != 0 && st.group_count() >= options_.max_groups)
        return answer(broker_, ticket,
                      Outcome::failure(fmt::format("too many stream groups: {} has max-stream-groups ({}) "
                                                   "groups; group '{}' not created",
                                                   d.to_string(), options_.max_groups, group.substr(0, 64))));
      auto made = std::make_unique<Group>();
      made->name = group;
      it = st.groups.emplace(group, std::move(made)).first;
    }
    g = it->second.get();
  }
  auto r = std::make_unique<Reader>();
  r->key = key;
  r->stream = &st;
  r->group = g;
  r->start = start;
  r->mode = mode;
  r->window = window;
  if (r->window.messages == 0) r->window.messages = 1;
  if (g == nullptr) {
    // A plain reader: its partition, or every one.
    for (std::uint32_t p = 0; p < st.partitions.size(); ++p) {
      if (partition && p != *partition) continue;
      auto c = open_cursor(*r, p);
      if (!c) return answer(broker_, ticket, Outcome::failure(c.error().text()));
      r->cursors.push_back(std::move(*c));
    }
  }
  Reader& reader = *r;
  readers_[key] = std::move(r);
  st.readers.push_back(&reader);
  // The SUBSCRIBE's answer goes first: its deliveries follow it to the
  // same shard, in order.
  answer(broker_, ticket, Outcome::success());
  if (g == nullptr) return pump(reader);
  g->members.push_back(&reader);
  rebalance(*g);
}

void StreamStore::rebalance(Group& g) {
  const std::uint32_t parts = static_cast<std::uint32_t>(g.members.front()->stream->partitions.size());
  const std::uint32_t members = static_cast<std::uint32_t>(g.members.size());
  const std::uint32_t each = parts / members, extra = parts % members;
  std::vector<ConsumerKey> keys;
  std::vector<std::pair<ConsumerKey, std::string>> failed;
  for (std::uint32_t i = 0; i < members; ++i) {
    Reader& r = *g.members[i];
    keys.push_back(r.key);
    // Kafka's RangeAssignor: member i (in subscription order) gets a
    // contiguous range, the first `extra` members one more.
    const std::uint32_t from = i * each + std::min(i, extra);
    const std::uint32_t to = from + each + (i < extra ? 1 : 0);
    // Partitions taken away: what it held there frees its window and is
    // not committed (the new owner reads it again); later ACKs find nothing.
    auto kept = std::remove_if(r.cursors.begin(), r.cursors.end(), [&](const Cursor& c) {
      if (c.partition >= from && c.partition < to) return false;
      for (const Held& h : c.unacked) {
        if (h.settled) continue;
        r.out_messages -= std::min<std::uint32_t>(r.out_messages, 1);
        r.out_bytes -= std::min(r.out_bytes, h.bytes);
      }
      return true;
    });
    r.cursors.erase(kept, r.cursors.end());
    for (std::uint32_t p = from; p < to; ++p) {
      if (r.cursor_of(p) != nullptr) continue;
      auto c = open_cursor(r, p);
      if (!c) {
        failed.emplace_back(r.key, c.error().text());
        break;
      }
      r.cursors.push_back(std::move(*c));
    }
    std::sort(r.cursors.begin(), r.cursors.end(),
              [](const Cursor& a, const Cursor& b) { return a.partition < b.partition; });
    r.next_cursor = 0;
  }
  for (const ConsumerKey& k : keys)
    if (auto it = readers_.find(k); it != readers_.end()) pump(*it->second);
  for (auto& [k, reason] : failed)
    if (auto it = readers_.find(k); it != readers_.end()) drop_reader(*it->second, std::move(reason));
}

void StreamStore::commit(Reader& r, std::uint32_t partition, stream::StreamOffset next,
                         stream::GroupOffsetFile::Done done) {
  Partition& part = r.stream->partitions[partition];
  auto [it, added] = part.committed.try_emplace(r.group->name, next);
  if (!added) {
    if (it->second == next) {
      if (done) done(Status{});
      return;
    }
    it->second = next;
  }
  std::shared_ptr<stream::GroupOffsetFile> file = part.offsets_file;
  if (file->submit(stream::encode_group_offsets(part.committed), std::move(done))) {
    if (committer_ != nullptr) committer_->post([file] { file->write_pending(); });
    else file->write_pending();
  }
}

std::vector<StreamStats> StreamStore::stats(const std::string& vhost) const {
  std::vector<StreamStats> out;
  for (const auto& [key, s] : streams_) {
    if (!vhost.empty() && s->destination.vhost != vhost) continue;
    StreamStats st;
    st.destination = s->destination;
    st.partitions = static_cast<std::uint32_t>(s->partitions.size());
    std::map<std::string, StreamStats::GroupStats> groups;
    for (const Partition& p : s->partitions) {
      st.first_offset += p.log->first_offset().value;
      st.end_offset += p.log->end_offset().value;
      st.segments += p.log->segment_count();
      st.disk_bytes += p.log->disk_bytes();
      for (const auto& [name, offset] : p.committed) groups[name].name = name;
    }
    // A group's committed offset over partitions: the sum of each one's,
    // a partition it has not committed in counting as its first offset
    // (so the lag counts all its entries).
    for (auto& [name, gs] : groups) {
      std::uint64_t sum = 0;
      for (const Partition& p : s->partitions) {
        auto c = p.committed.find(name);
        const std::uint64_t first = p.log->first_offset().value;
        sum += c != p.committed.end() ? std::max(c->second.value, first) : first;
      }
      gs.committed = sum;
    }
    st.consumers = s->readers.size();
    st.arguments = s->arguments;
    for (const auto& [name, g] : s->groups) {
      auto& gs = groups[name];
      gs.name = name;
      gs.members = g->members.size();
    }
    for (auto& [name, gs] : groups) st.groups.push_back(std::move(gs));
    out.push_back(std::move(st));
  }
  return out;
}

std::optional<std::uint64_t> StreamStore::committed_offset(const Destination& d, const std::string& group,
                                                           std::uint32_t partition) const {
  auto it = streams_.find(key_of(d));
  if (it == streams_.end() || partition >= it->second->partitions.size()) return std::nullopt;
  const auto& committed = it->second->partitions[partition].committed;
  auto c = committed.find(group);
  if (c == committed.end()) return std::nullopt;
  return c->second.value;
}

bool StreamStore::unsubscribe(const ConsumerKey& key) {
  auto it = readers_.find(key);
  if (it == readers_.end()) return false;
  Reader* r = it->second.get();
  Stream& st = *r->stream;
  auto& list = st.readers;
  list.erase(std::remove(list.begin(), list.end(), r), list.end());
  Group* g = r->group;
  if (g != nullptr) {
    // What it held and had not acknowledged is not committed: the member
    // its partitions go to gets it again (at-least-once).
    g->members.erase(std::remove(g->members.begin(), g->members.end(), r), g->members.end());
    if (g->members.empty()) {
      st.groups.erase(g->name);
      g = nullptr;
    }
  }
  readers_.erase(it);
  if (g != nullptr) rebalance(*g);
  return true;
}

bool StreamStore::settle(const ConsumerKey& key, const DeliverySeqs& seqs, SettleAction action,
                         const OpTicket& ticket) {
  auto it = readers_.find(key);
  if (it == readers_.end()) return false;
  Reader& r = *it->second;
  const bool grouped = r.group != nullptr;
  // ACK, NACK, a transaction's release and its later ACK: each delivery
  // frees its slot once. A plain reader redelivers nothing and commits
  // nothing: every settlement consumes.
  const bool consumed = !grouped || action == SettleAction::kAck;
  const bool rewind = grouped && (action == SettleAction::kRequeue || action == SettleAction::kDeadLetter);
  std::vector<std::optional<stream::StreamOffset>> rewind_to(r.cursors.size());
  for (DeliverySeq seq : seqs) {
    for (std::size_t ci = 0; ci < r.cursors.size(); ++ci) {
      auto& unacked = r.cursors[ci].unacked;
      auto u = std::lower_bound(unacked.begin(), unacked.end(), seq,
                                [](const Held& h, DeliverySeq s) { return h.seq.value < s.value; });
      if (u == unacked.end() || u->seq != seq) continue;
      if (rewind) {
        if (!rewind_to[ci] || u->offset < *rewind_to[ci]) rewind_to[ci] = u->offset;
        break;
      }
      if (consumed) u->acked = true;
      if (!u->settled) {
        u->settled = true;
        r.out_messages -= std::min<std::uint32_t>(r.out_messages, 1);
        r.out_bytes -= std::min(r.out_bytes, u->bytes);
      }
      break;
    }
  }
  for (std::size_t ci = 0; ci < r.cursors.size(); ++ci) {
    if (!rewind_to[ci]) continue;
    // A NACK in a group: that entry and every later one of its partition
    // come again (the log has no redelivery of one entry; Kafka's seek).
    // Their slots come back now; later ACKs of the dropped deliveries
    // find nothing.
    Cursor& c = r.cursors[ci];
    while (!c.unacked.empty() && c.unacked.back().offset >= *rewind_to[ci]) {
      if (!c.unacked.back().settled) {
        r.out_messages -= std::min<std::uint32_t>(r.out_messages, 1);
        r.out_bytes -= std::min(r.out_bytes, c.unacked.back().bytes);
      }
      c.unacked.pop_back();
    }
    auto pos = r.stream->partitions[c.partition].log->resolve(stream::OffsetSpec::offset(*rewind_to[ci]));
    if (!pos) {
      answer(broker_, ticket, Outcome::failure(pos.error().text()));
      drop_reader(r, pos.error().text());
      return true;
    }
    c.position = *pos;
  }
  std::vector<std::pair<std::uint32_t, stream::StreamOffset>> commits;
  for (Cursor& c : r.cursors) {
    std::optional<stream::StreamOffset> committed;
    while (!c.unacked.empty() && c.unacked.front().acked) {
      committed = stream::StreamOffset{c.unacked.front().offset.value + 1};
      c.unacked.pop_front();
    }
    if (committed) commits.emplace_back(c.partition, *committed);
  }
  if (grouped && !commits.empty()) {
    // One answer once every partition's commit is on disk (an ACK of
    // client mode can cover several).
    struct Join {
      std::atomic<std::size_t> left{0};
      std::mutex mutex;
      std::optional<std::string> error;
    };
    auto join = std::make_shared<Join>();
    join->left = commits.size();
    Broker* broker = &broker_;
    const OpTicket t = ticket;
    for (auto& [p, next] : commits)
      // On the committer's thread, once the table is on disk (or here).
      commit(r, p, next, [broker, t, join](const Status& written) {
        if (!written) {
          std::lock_guard lock(join->mutex);
          if (!join->error) join->error = written.error().text();
        }
        if (join->left.fetch_sub(1) != 1) return;
        std::optional<std::string> error;
        {
          std::lock_guard lock(join->mutex);
          error = join->error;
        }
        answer(*broker, t, error ? Outcome::failure(*error) : Outcome::success());
      });
  } else {
    answer(broker_, ticket, Outcome::success());
  }
  pump(r);
  return true;
}

bool StreamStore::credit(const ConsumerKey& key, std::uint32_t messages, std::uint64_t bytes) {
  auto it = readers_.find(key);
  if (it == readers_.end()) return false;
  Reader& r = *it->second;
  r.out_messages -= std::min(r.out_messages, messages);
  r.out_bytes -= std::min(r.out_bytes, bytes);
  pump(r);
  return true;
}

void StreamStore::on_commit(const std::string& key) {
  auto it = streams_.find(key);
  if (it == streams_.end()) return;
  // pump() never removes a reader from this list (drop_reader does, so copy).
  std::vector<Reader*> readers = it->second->readers;
  for (Reader* r : readers)
    if (readers_.contains(r->key)) pump(*r);
}

void StreamStore::drop_reader(Reader& r, std::string reason) {
  const ConsumerKey key = r.key;
  unsubscribe(key);
  broker_.to_client(key.shard, [key, reason = std::move(reason)](ClientEvents& ev) mutable {
    ev.kick(key.connection, key.subscription, std::move(reason));
  });
}

// One read from one of the reader's partitions; false when it gave nothing
// (at the end), or the reader was dropped (`dropped` set).
bool StreamStore::pump_cursor(Reader& r, Cursor& c, std::size_t& budget) {
  stream::PartitionLog& log = *r.stream->partitions[c.partition].log;
  if (c.position.next >= log.end_offset()) return false;
  std::size_t max_bytes = kReadBytes;
  if (r.window.bytes != 0) max_bytes = std::min<std::uint64_t>(max_bytes, r.window.bytes - r.out_bytes);
  std::size_t max_entries = std::min<std::size_t>(budget, r.window.messages - r.out_messages);
  // Several partitions share the window in turn.
  if (r.cursors.size() > 1) max_entries = std::min<std::size_t>(max_entries, kEntriesPerTurn);
  auto read = log.read(c.position, max_bytes, max_entries);
  if (!read) {
    spdlog::error("stream {} (vhost {}) partition {}: {}", log_safe(r.stream->destination.to_string()),
                  log_safe(r.stream->destination.vhost), c.partition, log_safe(read.error().text()));
    drop_reader(r, read.error().text());
    return false;
  }
  if (read->empty()) return false;
  budget -= std::min<std::size_t>(budget, read->entries());
  const std::string destination = r.stream->destination.to_string();
  const bool partitioned = r.stream->partitioned();
  read->for_each([&](const stream::EntryView& e) {
    MessageRef ref = make_message_with_header_slots(e.headers.size() + 2);
    Message& m = ref.writable();
    m.id = broker_.next_message_id(self_);
    m.id_text = partitioned ? fmt::format("ID:ferry-stream-{}-{}-{}-{}", r.key.connection.value,
                                          r.key.subscription.value, c.partition, e.offset.value)
                            : fmt::format("ID:ferry-stream-{}-{}-{}", r.key.connection.value,
                                          r.key.subscription.value, e.offset.value);
    m.destination = destination;
    std::size_t n = 0;
    for (const auto& [k, v] : e.headers) {
      m.headers[n].first.assign(k);
      m.headers[n].second.assign(v);
      ++n;
    }
    m.headers[n].first.assign("x-stream-offset");
    m.headers[n].second = std::to_string(e.offset.value);
    ++n;
    if (partitioned) {
      m.headers[n].first.assign("partition");
      m.headers[n].second = std::to_string(c.partition);
      ++n;
    }
    m.headers.resize(n);
    m.body.assign(e.body);
    const std::uint64_t bytes = m.body.size();
    Delivery d{std::move(ref), DeliverySeq(++r.next_seq), 0};
    ++r.out_messages;
    r.out_bytes += bytes;
    if (r.mode != AckMode::kAuto) c.unacked.push_back(Held{d.seq, e.offset, bytes, false, false});
    const ConsumerKey key = r.key;
    broker_.to_client(key.shard, [key, d = std::move(d)](ClientEvents& ev) mutable {
      ev.deliver(key.connection, key.subscription, std::move(d));
    });
    return true;
  });
  return true;
}

void StreamStore::pump(Reader& r) {
  if (r.cursors.empty()) return;  // a group's standby member
  std::size_t budget = kEntriesPerPump;
  std::vector<stream::StreamOffset> started;
  for (const Cursor& c : r.cursors) started.push_back(c.position.next);
  auto room = [&] {
    return r.out_messages < r.window.messages && (r.window.bytes == 0 || r.out_bytes < r.window.bytes);
  };
  const ConsumerKey key = r.key;
  bool more = true;
  while (more && room() && budget > 0) {
    more = false;
    // The partitions in turn, starting after the one that went last.
    const std::size_t n = r.cursors.size();
    const std::size_t first = r.next_cursor % n;
    for (std::size_t k = 0; k < n && room() && budget > 0; ++k) {
      const std::size_t ci = (first + k) % n;
      const bool read = pump_cursor(r, r.cursors[ci], budget);
      if (!readers_.contains(key)) return;  // dropped: a read failed
      if (read) more = true;
      r.next_cursor = (ci + 1) % n;
    }
  }
  // Auto mode in a group commits what was sent (at-most-once, as Kafka's
  // commit before processing); the write is coalesced with others.
  if (r.group != nullptr && r.mode == AckMode::kAuto)
    for (std::size_t ci = 0; ci < r.cursors.size(); ++ci)
      if (r.cursors[ci].position.next != started[ci])
        commit(r, r.cursors[ci].partition, r.cursors[ci].position.next, {});
  // Out of this turn's budget with room left: go on in a later turn, so
  // that one reader replaying a long stream does not hold the loop.
  bool behind = false;
  for (const Cursor& c : r.cursors)
    if (c.position.next < r.stream->partitions[c.partition].log->end_offset()) behind = true;
  if (budget == 0 && room() && behind && !r.continuation_posted) {
    r.continuation_posted = true;
    Broker* broker = &broker_;
    const ShardId self = self_;
    broker_.post(self_, [broker, self, key] { broker->local(self).streams().continue_reader(key); });
  }
}

void StreamStore::continue_reader(const ConsumerKey& key) {
  auto it = readers_.find(key);
  if (it == readers_.end()) return;
  it->second->continuation_posted = false;
  pump(*it->second);
}

Result<bool> StreamStore::declare(const Destination& d, const StreamArguments& args) {
  bool existed = streams_.contains(key_of(d));
  if (!existed) {
    auto dir = directory_of(d);
    if (!dir) return dir.error();
    std::error_code ec;
    existed = std::filesystem::exists(*dir, ec);
  }
  auto s = stream_for(d, true, &args);
  if (!s) return s.error();
  return !existed;
}

Result<bool> StreamStore::remove(const Destination& d) {
  auto dir = directory_of(d);
  if (!dir) return dir.error();
  const std::string stream_dir = dir->substr(0, dir->size() - 2);  // without "/0"
  auto it = streams_.find(key_of(d));
  if (it == streams_.end()) {
    std::error_code ec;
    if (!std::filesystem::exists(*dir, ec)) return false;
    // On disk but not open (it could not be opened at start-up): its
    // files go all the same, the operator's way out of a corrupt stream.
  } else {
    Stream& st = *it->second;
    if (!st.readers.empty())
      return failure("stream in use", fmt::format("{} has {} readers; it is not deleted", d.to_string(),
                                                  st.readers.size()));
    // Appends in flight are committed by close() (their RECEIPTs may still
    // come); the entries go with the files.
    for (auto& p : st.partitions) {
      if (committer_ != nullptr) committer_->forget(*p.log);
      if (compactor_) compactor_->forget(*p.log);
      p.log->close();
    }
    streams_.erase(it);
    counts_.remove(d.vhost);
  }
  // Renamed first, then removed: a crash in between leaves a directory no
  // stream name escapes to (a leading '.'), which start-up ignores, never a
  // stream with some of its partitions.
  const std::string parent = stream_dir.substr(0, stream_dir.rfind('/'));
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string trash = fmt::format("{}/.deleted-{}-{}-{}", parent, self_.value, now, ++deletions_);
  std::error_code ec;
  std::filesystem::rename(stream_dir, trash, ec);
  if (ec) return failure("cannot delete stream", fmt::format("{}: {}", stream_dir, ec.message()));
  (void)store::Env::posix().sync_dir(parent);
  std::filesystem::remove_all(trash, ec);
  if (ec)
    spdlog::warn("stream {} (vhost {}) deleted; its files in {} were not all removed: {}", log_safe(d.to_string()),
                 log_safe(d.vhost), log_safe(trash), ec.message());
  spdlog::info("stream {} (vhost {}) deleted", log_safe(d.to_string()), log_safe(d.vhost));
  return true;
}

void StreamStore::tick(std::int64_t now_ms) {
  if (++ticks_ % 10 != 0) return;  // about once a second
  for (auto& [key, s] : streams_) {
    // Compaction runs on the compactor's thread; a request with nothing
    // new costs it a look at the segment list.
    if (s->compact && compactor_)
      for (auto& p : s->partitions) compactor_->request(*p.log);
    if (!s->retention) continue;
    for (std::size_t p = 0; p < s->partitions.size(); ++p) {
      auto r = s->partitions[p].log->apply_retention(now_ms);
      if (!r) {
        if (static LogRate rate("stream retention failures"); rate.allow())
          spdlog::error("stream {} (vhost {}) partition {}: retention: {}", log_safe(s->destination.to_string()),
                        log_safe(s->destination.vhost), p, log_safe(r.error().text()));
        continue;
      }
      if (r->segments_deleted != 0)
        spdlog::info("stream {} (vhost {}) partition {}: retention deleted {} segments ({} bytes); first offset now {}",
                     log_safe(s->destination.to_string()), log_safe(s->destination.vhost), p, r->segments_deleted,
                     r->bytes_deleted, r->first.value);
    }
  }
}

}  // namespace ferry::broker
