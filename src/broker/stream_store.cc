#include "broker/stream_store.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>

#include "broker/broker.h"
#include "broker/shard_broker.h"
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
  readers_.clear();
  for (auto& [key, s] : streams_) {
    // The committer must not sync a log being destroyed; close() commits
    // what is pending itself (its completions answer connections that are
    // gone by now, harmlessly).
    if (committer_ != nullptr) committer_->forget(*s->log);
    s->log->close();
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
  o.directory = *dir;
  o.max_segment_bytes = options_.max_segment_bytes;
  o.max_entry_bytes = std::min<std::uint32_t>(std::max<std::uint32_t>(options_.max_entry_bytes, 1024),
                                              stream::format::kMaxBatchBytesLimit / 2);
  o.max_batch_bytes = std::max<std::uint32_t>(
      o.max_batch_bytes, o.max_entry_bytes + static_cast<std::uint32_t>(stream::format::kBatchHeaderBytes));
  o.fsync = options_.fsync;
  o.max_segment_bytes = declared.max_segment_bytes.value_or(options_.max_segment_bytes);
  o.retention.max_bytes = declared.max_length_bytes.value_or(options_.max_length_bytes);
  o.retention.max_age_ms = declared.max_age ? declared.max_age_ms : options_.max_age_ms;
  s->arguments = declared;
  s->retention = o.retention.max_bytes != 0 || o.retention.max_age_ms != 0;
  // From the committer's thread: one wake-up task at a time per stream.
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
  auto log = stream::PartitionLog::open(o);
  if (!log) {
    counts_.remove(d.vhost);
    return log.error();
  }
  s->log = std::move(*log);
  // The groups' committed offsets sit beside the partitions:
  // <vhost>/<name>/group-offsets.
  s->offsets_file = std::make_shared<stream::GroupOffsetFile>(store::Env::posix(), stream_dir);
  auto committed = s->offsets_file->load();
  if (!committed) {
    if (committer_ != nullptr) committer_->forget(*s->log);
    s->log->close();
    counts_.remove(d.vhost);
    return committed.error();
  }
  s->committed = std::move(*committed);
  if (s->log->recovery().truncated_bytes != 0 || s->log->recovery().indexes_rebuilt != 0)
    spdlog::warn("stream {} (vhost {}): {}", log_safe(d.to_string()), log_safe(d.vhost),
                 log_safe(s->log->recovery().report));
  if (!on_disk) spdlog::debug("stream {} created (vhost {})", log_safe(d.to_string()), log_safe(d.vhost));
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
  StreamArguments args;
  for (const auto& [k, v] : m->headers)
    if (StreamArguments::is_argument(k))
      if (Status st = args.set(k, v); !st) return answer(broker_, ticket, Outcome::failure(st.error().text()));
  auto s = stream_for(d, true, args.empty() ? nullptr : &args);
  if (!s) return answer(broker_, ticket, Outcome::failure(s.error().text()));
  stream::StreamEntry e;
  e.body = m->body;
  e.headers.reserve(m->headers.size());
  for (const auto& [k, v] : m->headers) {
    // Set per delivery, never stored.
    if (k == "x-stream-offset" || StreamArguments::is_argument(k)) continue;  // declarations are not data
    e.headers.emplace_back(k, v);
    if (!e.key && (k == "partition-key" || k == "key")) e.key = v;
  }
  Broker* broker = &broker_;
  auto appended = (*s)->log->append(std::span<const stream::StreamEntry>(&e, 1),
                                    [broker, ticket](const stream::CommitResult& r) {
                                      // On the committer's thread: the answer goes to the producer's shard.
                                      answer(*broker, ticket, r.ok ? Outcome::success() : Outcome::failure(r.error));
                                    });
  if (!appended) return answer(broker_, ticket, Outcome::failure(appended.error().text()));
  if (committer_ != nullptr) committer_->notify(*(*s)->log);
}

void StreamStore::subscribe(const Destination& d, const ConsumerKey& key, AckMode mode, Window window,
                            const stream::OffsetSpec& start, const std::string& group,
                            const StreamArguments& args, OpTicket ticket, bool may_create) {
  if (!may_create && !streams_.contains(key_of(d))) {
    auto dir = directory_of(d);
    std::error_code ec;
    if (!dir || !std::filesystem::exists(*dir, ec)) return answer(broker_, ticket, Outcome::not_created(d.to_string()));
  }
  auto s = stream_for(d, true, args.empty() ? nullptr : &args);
  if (!s) return answer(broker_, ticket, Outcome::failure(s.error().text()));
  Stream& st = **s;
  Group* g = nullptr;
  if (!group.empty()) {
    auto it = st.groups.find(group);
    if (it == st.groups.end()) {
      // A group counts against max-stream-groups once it exists: it has
      // members now or a committed offset on disk.
      const bool known = st.committed.contains(group);
      if (!known && options_.max_groups != 0) {
        std::size_t groups = st.committed.size();
        for (const auto& [name, gr] : st.groups)
          if (!st.committed.contains(name)) ++groups;
        if (groups >= options_.max_groups)
          return answer(broker_, ticket,
                        Outcome::failure(fmt::format("too many stream groups: {} has max-stream-groups ({}) "
                                                     "groups; group '{}' not created",
                                                     d.to_string(), options_.max_groups, group.substr(0, 64))));
      }
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
  r->active = g == nullptr || g->members.empty();
  r->start = start;
  r->mode = mode;
  r->window = window;
  if (r->window.messages == 0) r->window.messages = 1;
  if (r->active) {
    const auto committed = g != nullptr ? st.committed.find(g->name) : st.committed.end();
    auto pos = st.log->resolve(committed != st.committed.end() ? stream::OffsetSpec::offset(committed->second)
                                                               : start);
    if (!pos) {
      if (g != nullptr && g->members.empty()) st.groups.erase(g->name);
      return answer(broker_, ticket, Outcome::failure(pos.error().text()));
    }
    r->position = *pos;
  }
  Reader& reader = *r;
  readers_[key] = std::move(r);
  st.readers.push_back(&reader);
  if (g != nullptr) g->members.push_back(&reader);
  // The SUBSCRIBE's answer goes first: its deliveries follow it to the
  // same shard, in order.
  answer(broker_, ticket, Outcome::success());
  pump(reader);
}

bool StreamStore::activate(Reader& r) {
  Stream& st = *r.stream;
  r.active = true;
  const auto committed = st.committed.find(r.group->name);
  auto pos = st.log->resolve(committed != st.committed.end() ? stream::OffsetSpec::offset(committed->second)
                                                             : r.start);
  if (!pos) {
    drop_reader(r, pos.error().text());
    return false;
  }
  r.position = *pos;
  pump(r);
  return true;
}

void StreamStore::commit(Reader& r, stream::StreamOffset next, std::optional<OpTicket> ticket) {
  Stream& st = *r.stream;
  auto [it, added] = st.committed.try_emplace(r.group->name, next);
  if (!added) {
    if (it->second == next) {
      if (ticket) answer(broker_, *ticket, Outcome::success());
      return;
    }
    it->second = next;
  }
  stream::GroupOffsetFile::Done done;
  if (ticket) {
    Broker* broker = &broker_;
    const OpTicket t = *ticket;
    // On the committer's thread, once the table is on disk.
    done = [broker, t](const Status& written) {
      answer(*broker, t, written ? Outcome::success() : Outcome::failure(written.error().text()));
    };
  }
  std::shared_ptr<stream::GroupOffsetFile> file = st.offsets_file;
  if (file->submit(stream::encode_group_offsets(st.committed), std::move(done))) {
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
    st.first_offset = s->log->first_offset().value;
    st.end_offset = s->log->end_offset().value;
    st.segments = s->log->segment_count();
    st.disk_bytes = s->log->disk_bytes();
    st.consumers = s->readers.size();
    st.arguments = s->arguments;
    std::map<std::string, StreamStats::GroupStats> groups;
    for (const auto& [name, offset] : s->committed) groups[name] = {name, offset.value, 0};
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

std::optional<std::uint64_t> StreamStore::committed_offset(const Destination& d, const std::string& group) const {
  auto it = streams_.find(key_of(d));
  if (it == streams_.end()) return std::nullopt;
  auto c = it->second->committed.find(group);
  if (c == it->second->committed.end()) return std::nullopt;
  return c->second.value;
}

bool StreamStore::unsubscribe(const ConsumerKey& key) {
  auto it = readers_.find(key);
  if (it == readers_.end()) return false;
  Reader* r = it->second.get();
  auto& list = r->stream->readers;
  list.erase(std::remove(list.begin(), list.end(), r), list.end());
  Reader* successor = nullptr;
  if (Group* g = r->group; g != nullptr) {
    // What it held and had not acknowledged is not committed: the next
    // active member gets it again (at-least-once).
    g->members.erase(std::remove(g->members.begin(), g->members.end(), r), g->members.end());
    if (g->members.empty()) r->stream->groups.erase(g->name);
    else if (r->active) successor = g->members.front();
  }
  readers_.erase(it);
  if (successor != nullptr) activate(*successor);
  return true;
}

bool StreamStore::settle(const ConsumerKey& key, const DeliverySeqs& seqs, SettleAction action,
                         const OpTicket& ticket) {
  auto it = readers_.find(key);
  if (it == readers_.end()) return false;
  Reader& r = *it->second;
  const bool grouped = r.group != nullptr && r.active;
  // ACK, NACK, a transaction's release and its later ACK: each delivery
  // frees its slot once. A plain reader redelivers nothing and commits
  // nothing: every settlement consumes.
  const bool consumed = !grouped || action == SettleAction::kAck;
  const bool rewind = grouped && (action == SettleAction::kRequeue || action == SettleAction::kDeadLetter);
  std::optional<stream::StreamOffset> rewind_to;
  for (DeliverySeq seq : seqs) {
    auto u = std::lower_bound(r.unacked.begin(), r.unacked.end(), seq,
                              [](const Reader::Held& h, DeliverySeq s) { return h.seq.value < s.value; });
    if (u == r.unacked.end() || u->seq != seq) continue;
    if (rewind) {
      if (!rewind_to || u->offset < *rewind_to) rewind_to = u->offset;
      continue;
    }
    if (consumed) u->acked = true;
    if (u->settled) continue;
    u->settled = true;
    r.out_messages -= std::min<std::uint32_t>(r.out_messages, 1);
    r.out_bytes -= std::min(r.out_bytes, u->bytes);
  }
  if (rewind_to) {
    // A NACK in a group: that entry and every later one come again (the
    // log has no redelivery of one entry; Kafka's seek). Their slots come
    // back now; later ACKs of the dropped deliveries find nothing.
    while (!r.unacked.empty() && r.unacked.back().offset >= *rewind_to) {
      if (!r.unacked.back().settled) {
        r.out_messages -= std::min<std::uint32_t>(r.out_messages, 1);
        r.out_bytes -= std::min(r.out_bytes, r.unacked.back().bytes);
      }
      r.unacked.pop_back();
    }
    auto pos = r.stream->log->resolve(stream::OffsetSpec::offset(*rewind_to));
    if (!pos) {
      answer(broker_, ticket, Outcome::failure(pos.error().text()));
      drop_reader(r, pos.error().text());
      return true;
    }
    r.position = *pos;
  }
  std::optional<stream::StreamOffset> committed;
  while (!r.unacked.empty() && r.unacked.front().acked) {
    committed = stream::StreamOffset{r.unacked.front().offset.value + 1};
    r.unacked.pop_front();
  }
  if (grouped && committed) commit(r, *committed, ticket);
  else answer(broker_, ticket, Outcome::success());
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

void StreamStore::pump(Reader& r) {
  if (!r.active) return;  // a group's standby member
  stream::PartitionLog& log = *r.stream->log;
  std::size_t budget = kEntriesPerPump;
  const stream::StreamOffset started = r.position.next;
  auto room = [&] {
    return r.out_messages < r.window.messages && (r.window.bytes == 0 || r.out_bytes < r.window.bytes);
  };
  while (room() && budget > 0 && r.position.next < log.end_offset()) {
    std::size_t max_bytes = kReadBytes;
    if (r.window.bytes != 0) max_bytes = std::min<std::uint64_t>(max_bytes, r.window.bytes - r.out_bytes);
    const std::size_t max_entries = std::min<std::size_t>(budget, r.window.messages - r.out_messages);
    auto read = log.read(r.position, max_bytes, max_entries);
    if (!read) {
      spdlog::error("stream {} (vhost {}): {}", log_safe(r.stream->destination.to_string()),
                    log_safe(r.stream->destination.vhost), log_safe(read.error().text()));
      return drop_reader(r, read.error().text());
    }
    if (read->empty()) break;
    budget -= std::min<std::size_t>(budget, read->entries());
    const std::string destination = r.stream->destination.to_string();
    read->for_each([&](const stream::EntryView& e) {
      MessageRef ref = make_message_with_header_slots(e.headers.size() + 1);
      Message& m = ref.writable();
      m.id = broker_.next_message_id(self_);
      m.id_text = fmt::format("ID:ferry-stream-{}-{}-{}", r.key.connection.value, r.key.subscription.value,
                              e.offset.value);
      m.destination = destination;
      std::size_t n = 0;
      for (const auto& [k, v] : e.headers) {
        m.headers[n].first.assign(k);
        m.headers[n].second.assign(v);
        ++n;
      }
      m.headers[n].first.assign("x-stream-offset");
      m.headers[n].second = std::to_string(e.offset.value);
      m.headers.resize(n + 1);
      m.body.assign(e.body);
      const std::uint64_t bytes = m.body.size();
      Delivery d{std::move(ref), DeliverySeq(++r.next_seq), 0};
      ++r.out_messages;
      r.out_bytes += bytes;
      if (r.mode != AckMode::kAuto) r.unacked.push_back(Reader::Held{d.seq, e.offset, bytes, false, false});
      const ConsumerKey key = r.key;
      broker_.to_client(key.shard, [key, d = std::move(d)](ClientEvents& ev) mutable {
        ev.deliver(key.connection, key.subscription, std::move(d));
      });
      return true;
    });
  }
  // Auto mode in a group commits what was sent (at-most-once, as Kafka's
  // commit before processing); the write is coalesced with others.
  if (r.group != nullptr && r.mode == AckMode::kAuto && r.position.next != started)
    commit(r, r.position.next, std::nullopt);
  // Out of this turn's budget with room left: go on in a later turn, so
  // that one reader replaying a long stream does not hold the loop.
  if (budget == 0 && room() && r.position.next < log.end_offset() && !r.continuation_posted) {
    r.continuation_posted = true;
    Broker* broker = &broker_;
    const ShardId self = self_;
    const ConsumerKey key = r.key;
    broker_.post(self_, [broker, self, key] { broker->local(self).streams().continue_reader(key); });
  }
}

void StreamStore::continue_reader(const ConsumerKey& key) {
  auto it = readers_.find(key);
  if (it == readers_.end()) return;
  it->second->continuation_posted = false;
  pump(*it->second);
}

void StreamStore::tick(std::int64_t now_ms) {
  if (++ticks_ % 10 != 0) return;  // about once a second
  for (auto& [key, s] : streams_) {
    if (!s->retention) continue;
    auto r = s->log->apply_retention(now_ms);
    if (!r) {
      if (static LogRate rate("stream retention failures"); rate.allow())
        spdlog::error("stream {} (vhost {}): retention: {}", log_safe(s->destination.to_string()),
                      log_safe(s->destination.vhost), log_safe(r.error().text()));
      continue;
    }
    if (r->segments_deleted != 0)
      spdlog::info("stream {} (vhost {}): retention deleted {} segments ({} bytes); first offset now {}",
                   log_safe(s->destination.to_string()), log_safe(s->destination.vhost), r->segments_deleted,
                   r->bytes_deleted, r->first.value);
  }
}

}  // namespace ferry::broker
