#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/client_events.h"
#include "broker/consumer_key.h"
#include "broker/delivery.h"
#include "broker/destination.h"
#include "broker/message.h"
#include "broker/queue_counts.h"
#include "broker/stream_arguments.h"
#include "broker/stream_options.h"
#include "common/result.h"
#include "stream/committer.h"
#include "stream/compactor.h"
#include "stream/group_offsets.h"
#include "stream/offset_spec.h"
#include "stream/partition_log.h"
#include "stream/partitioner.h"

// The streams one shard owns (`/stream/NAME`, and RabbitMQ's
// `x-queue-type:stream` queues; docs/streams.md "Using streams over
// STOMP"), each one partition (a stream::PartitionLog) in
// <streams dir>/<vhost escaped>/<name escaped>/0, and their readers.
//
// Owned by its ShardBroker; every method runs on that shard. Two things
// happen elsewhere: the StreamCommitter's thread syncs the logs and runs
// the appends' completions, which post the SEND's answer to the
// producer's shard (so a RECEIPT means the entry is on disk), and a log's
// on_commit posts a wake-up to this shard, where the readers at the tail
// go on.
//
// A reader holds a position, not entries: it reads whole batches from the
// page cache (pread, on this shard's thread) when its window has room, and
// delivers each entry as a MESSAGE with `x-stream-offset`. Its window is
// the subscription's (prefetch): auto mode gets credit back as the frames
// are written, client modes with each ACK or NACK, which move nothing else
// (a plain reader keeps no offset).
//
// Per-stream arguments (x-max-age, x-max-length-bytes,
// x-stream-max-segment-size-bytes on the creating SEND or SUBSCRIBE)
// override the options for that stream and are kept beside it in
// <vhost>/<name>/arguments (docs/streams.md "Per-stream arguments").
//
// Consumer groups (SUBSCRIBE `group:NAME`; docs/streams.md "Consumer
// groups"): the readers of one stream sharing a group name are its members.
// One is active (the first to subscribe; with one partition, RabbitMQ's
// single active consumer), the others stand by and get nothing until it
// leaves. The group's committed offset (the next entry it reads) moves with
// the active member's ACKs (client modes: up to the first delivery not yet
// acknowledged) or as entries are sent (auto) and is kept durably in the
// stream's group-offsets file, written on the committer's thread; an ACK's
// answer (its RECEIPT) waits for that write. A member that becomes active
// starts at the committed offset, or at its x-stream-offset when the group
// has none. A NACK moves the active member back to the NACKed entry.

namespace ferry::broker {

class Broker;

// One stream as the management API shows it (GET /api/queues, "type":
// "stream"): its kept range, files, readers and groups.
struct StreamStats {
  Destination destination;
  std::uint64_t first_offset = 0;  // the oldest entry kept
  std::uint64_t end_offset = 0;    // after the last committed entry
  std::uint64_t segments = 0;
  std::uint64_t disk_bytes = 0;
  std::uint64_t consumers = 0;     // readers, group members included
  // x-stream-partitions. With more than one, the offsets above (and the
  // groups' committed ones) are sums over the partitions, so that
  // end - first is still the entries kept and end - committed the lag.
  std::uint32_t partitions = 1;
  StreamArguments arguments;
  struct GroupStats {
    std::string name;
    std::optional<std::uint64_t> committed;  // nullopt: nothing committed yet
    std::uint64_t members = 0;
  };
  std::vector<GroupStats> groups;  // by name
};

class StreamStore {
 public:
  // `committer` and `counts` outlive this (the Broker owns them).
  StreamStore(ShardId self, Broker& broker, const StreamOptions& options, stream::StreamCommitter* committer,
              QueueCounts& counts);
  ~StreamStore();
  StreamStore(const StreamStore&) = delete;
  StreamStore& operator=(const StreamStore&) = delete;

  // Start-up, before traffic: opens a stream found on disk (recovering its
  // log). An Error (logged by the caller) leaves it closed; its next use
  // tries again and answers the error.
  Status open_existing(const Destination& d);

  // SEND: appends one entry; the ticket is answered from the commit (ok
  // once it is on disk). may_create false: a missing stream is not made.
  void publish(const Destination& d, const MessageRef& m, OpTicket ticket, bool may_create);
  // A transaction's SENDs to this stream, at COMMIT (docs/streams.md
  // "Transactions"): the entries of each partition are one batch, so they
  // are in the log all together or not at all; the ticket is answered once
  // every batch is on disk (or with the first failure). A stream made here
  // is always allowed: the session checked configure at each SEND.
  void publish_batch(const Destination& d, const std::vector<MessageRef>& messages, OpTicket ticket);
  // A replicated stream (stream_replication.h): entry `offset` of its log,
  // committed there, written here (the stream made if need be). An offset
  // the stream has already is skipped (given again after a restart).
  void apply_replicated(const Destination& d, std::uint64_t offset, stream::StreamEntry e);
  // SUBSCRIBE: a reader at `start`, answered before its first delivery.
  // `group` non-empty: a member of that consumer group (above).
  // `partition`: a plain reader of that partition only (nullopt: all).
  void subscribe(const Destination& d, const ConsumerKey& key, AckMode mode, Window window,
                 const stream::OffsetSpec& start, const std::string& group, const StreamArguments& args,
                 OpTicket ticket, bool may_create, std::optional<std::uint32_t> partition = std::nullopt);
  // Each returns false when `key` is not a stream reader (the caller goes on
  // with queues). UNSUBSCRIBE (or close): the reader goes.
  bool unsubscribe(const ConsumerKey& key);
  // ACK / NACK of deliveries: their window slots come back; a group's
  // active member's ACK commits, a NACK rewinds. The ticket is answered
  // here (after the commit is durable) when this returns true.
  bool settle(const ConsumerKey& key, const DeliverySeqs& seqs, SettleAction action, const OpTicket& ticket);
  // Auto mode: frames written, window credit back.
  bool credit(const ConsumerKey& key, std::uint32_t messages, std::uint64_t bytes);
  // A reader's pump that ran out of its turn's budget goes on (a task).
  void continue_reader(const ConsumerKey& key);
  // The management API (docs/streams.md "Declared through the management
  // API"). declare: PUT /api/queues/V/NAME with x-queue-type:stream: true
  // when it made the stream, false when it was there with equivalent
  // arguments; an Error (inequivalent, invalid, too many streams) otherwise.
  Result<bool> declare(const Destination& d, const StreamArguments& args);
  // DELETE /api/queues/V/NAME: the stream and its files go. false: no such
  // stream; an Error `stream in use` while it has readers, or the disk's.
  Result<bool> remove(const Destination& d);
  // Periodic: retention (stream-max-age, stream-max-length-bytes).
  void tick(std::int64_t now_ms);

  std::size_t stream_count() const { return streams_.size(); }
  // The open streams of `vhost` ("" = every vhost), for the API.
  std::vector<StreamStats> stats(const std::string& vhost) const;
  // A group's committed offset (the next entry it reads); nullopt: the
  // group has committed nothing, or no such stream is open. Tests, the API.
  std::optional<std::uint64_t> committed_offset(const Destination& d, const std::string& group,
                                                std::uint32_t partition = 0) const;

  // The directory component for a vhost or stream name: bytes other than
  // [A-Za-z0-9_-] (and a leading '.') as %XX, so any name is one safe
  // path component. nullopt: empty, or escaped longer than 240 bytes.
  static std::optional<std::string> escape_name(std::string_view name);
  static std::optional<std::string> unescape_name(std::string_view component);

 private:
  struct Reader;
  // Wake-ups from the committer's thread: one posted at a time per stream.
  struct Wake {
    std::atomic<bool> posted{false};
    std::string key;
  };
  // A consumer group's members on one stream, in subscription order. The
  // stream's partitions are shared among them by Kafka's range assignment
  // (rebalance()): with one partition the first member is the active one
  // and the others stand by.
  struct Group {
    std::string name;
    std::vector<Reader*> members;
  };
  // One partition log and its groups' committed offsets (as on disk).
  struct Partition {
    std::unique_ptr<stream::PartitionLog> log;
    stream::GroupOffsets committed;
    std::shared_ptr<stream::GroupOffsetFile> offsets_file;
  };
  struct Stream {
    Destination destination;
    // x-stream-partitions logs (one unless declared), in
    // <stream directory>/<p>.
    std::vector<Partition> partitions;
    // Keyless SENDs: Kafka's sticky partitioner, one per stream.
    std::optional<stream::StickyPartitioner> sticky;
    std::shared_ptr<Wake> wake;
    std::vector<Reader*> readers;
    // Groups with members now. Their committed offsets (and those of
    // groups with none, kept as long as the stream) are per partition.
    std::unordered_map<std::string, std::unique_ptr<Group>> groups;
    // Its own arguments (from <stream directory>/arguments; empty: the
    // broker's options apply) and whether any retention applies to it.
    StreamArguments arguments;
    bool retention = false;
    bool compact = false;  // x-cleanup-policy:compact: the compactor is asked each tick
    bool partitioned() const { return partitions.size() > 1; }
    // Every group name with a committed offset in some partition.
    bool known_group(const std::string& name) const;
    std::size_t group_count() const;
  };
  // What each delivery holds of the window, by increasing seq; a settled
  // one is marked and popped once it reaches the front.
  struct Held {
    DeliverySeq seq;
    stream::StreamOffset offset;
    std::uint64_t bytes = 0;
    bool settled = false;  // its window slot is back
    bool acked = false;    // consumed: a group may commit past it
  };
  // A reader's place in one partition it reads.
  struct Cursor {
    std::uint32_t partition = 0;
    stream::ReaderPosition position;
    std::deque<Held> unacked;  // client modes
  };
  struct Reader {
    ConsumerKey key;
    Stream* stream = nullptr;
    Group* group = nullptr;  // null: a plain reader
    // The partitions it reads now: a plain reader's chosen one (`partition`
    // header) or all; a group member's assigned ones (none: it stands by).
    std::vector<Cursor> cursors;
    std::size_t next_cursor = 0;  // round-robin among cursors
    stream::OffsetSpec start = stream::OffsetSpec::next();
    AckMode mode = AckMode::kAuto;
    Window window;
    std::uint32_t out_messages = 0;  // delivered, credit not back yet
    std::uint64_t out_bytes = 0;
    std::uint64_t next_seq = 0;
    bool continuation_posted = false;
    Cursor* cursor_of(std::uint32_t partition);
  };

  const std::string& key_of(const Destination& d) const {
    key_scratch_.assign(d.vhost).append(1, '\n').append(d.name);
    return key_scratch_;
  }
  // The stream, opened or created; an Error when the limit, the name or
  // the disk refuses it. create false: only one that exists (open or on disk).
  // `args` (may be null or empty): declared on creation, checked against
  // an existing stream (an inequivalent-arg Error).
  Result<Stream*> stream_for(const Destination& d, bool create, const StreamArguments* args = nullptr);
  Result<std::string> directory_of(const Destination& d) const;
  // Delivers what the reader's window has room for (a bounded number per
  // call; the rest in a task posted to this shard).
  void pump(Reader& r);
  void on_commit(const std::string& key);
  void drop_reader(Reader& r, std::string reason);
  // A cursor on `partition` for `r`: at the group's committed offset
  // there, else at the reader's own start. An Error when the log cannot
  // resolve it.
  Result<Cursor> open_cursor(Reader& r, std::uint32_t partition);
  // Shares the stream's partitions among the group's members (Kafka's range
  // assignment, in subscription order): a member losing a partition drops
  // its cursor there (what it held unacknowledged comes again to the new
  // owner), a member gaining one starts at the committed offset.
  void rebalance(Group& g);
  // The group's committed offset in `partition` is now `next`: written
  // durably on the committer's thread, `done` (if any) run after.
  void commit(Reader& r, std::uint32_t partition, stream::StreamOffset next, stream::GroupOffsetFile::Done done);
  bool pump_cursor(Reader& r, Cursor& c, std::size_t& budget);
  // The entry a SEND stores, and its partition in `s`.
  stream::StreamEntry entry_of(Stream& s, const Message& m, std::uint32_t& partition);

  static constexpr std::size_t kEntriesPerPump = 512;
  // A reader of several partitions takes at most this many from one
  // before the next has its turn.
  static constexpr std::size_t kEntriesPerTurn = 64;
  // Keyless SENDs to a partitioned stream: this many to one partition,
  // then the next (Kafka's sticky partitioner; docs/streams.md).
  static constexpr std::uint32_t kStickyEntries = 16;
  static constexpr std::size_t kReadBytes = 1u << 20;

  ShardId self_;
  Broker& broker_;
  const StreamOptions& options_;
  stream::StreamCommitter* committer_;
  // This shard's compaction thread, made when its first compacted stream
  // opens (docs/streams.md "Compaction").
  std::unique_ptr<stream::StreamCompactor> compactor_;
  QueueCounts& counts_;
  std::unordered_map<std::string, std::unique_ptr<Stream>> streams_;
  std::unordered_map<ConsumerKey, std::unique_ptr<Reader>> readers_;
  mutable std::string key_scratch_;
  std::uint64_t ticks_ = 0;
  std::uint64_t deletions_ = 0;  // names the renamed directories of remove()
};

}  // namespace ferry::broker
