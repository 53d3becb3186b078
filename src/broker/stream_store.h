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
#include "broker/stream_options.h"
#include "common/result.h"
#include "stream/committer.h"
#include "stream/offset_spec.h"
#include "stream/partition_log.h"

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

namespace ferry::broker {

class Broker;

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
  // SUBSCRIBE: a reader at `start`, answered before its first delivery.
  void subscribe(const Destination& d, const ConsumerKey& key, AckMode mode, Window window,
                 const stream::OffsetSpec& start, OpTicket ticket, bool may_create);
  // Each returns false when `key` is not a stream reader (the caller goes on
  // with queues). UNSUBSCRIBE (or close): the reader goes.
  bool unsubscribe(const ConsumerKey& key);
  // ACK / NACK of deliveries: their window slots come back; nothing else.
  bool settle(const ConsumerKey& key, const DeliverySeqs& seqs);
  // Auto mode: frames written, window credit back.
  bool credit(const ConsumerKey& key, std::uint32_t messages, std::uint64_t bytes);
  // A reader's pump that ran out of its turn's budget goes on (a task).
  void continue_reader(const ConsumerKey& key);
  // Periodic: retention (stream-max-age, stream-max-length-bytes).
  void tick(std::int64_t now_ms);

  std::size_t stream_count() const { return streams_.size(); }

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
  struct Stream {
    Destination destination;
    std::unique_ptr<stream::PartitionLog> log;
    std::shared_ptr<Wake> wake;
    std::vector<Reader*> readers;
  };
  struct Reader {
    ConsumerKey key;
    Stream* stream = nullptr;
    AckMode mode = AckMode::kAuto;
    Window window;
    stream::ReaderPosition position;
    std::uint32_t out_messages = 0;  // delivered, credit not back yet
    std::uint64_t out_bytes = 0;
    // Client modes: what each delivery holds of the window, by increasing
    // seq; a settled one is marked and popped once it reaches the front.
    struct Held {
      DeliverySeq seq;
      std::uint64_t bytes = 0;
      bool settled = false;
    };
    std::deque<Held> unacked;
    std::uint64_t next_seq = 0;
    bool continuation_posted = false;
  };

  const std::string& key_of(const Destination& d) const {
    key_scratch_.assign(d.vhost).append(1, '\n').append(d.name);
    return key_scratch_;
  }
  // The stream, opened or created; an Error when the limit, the name or
  // the disk refuses it. create false: only one that exists (open or on disk).
  Result<Stream*> stream_for(const Destination& d, bool create);
  Result<std::string> directory_of(const Destination& d) const;
  // Delivers what the reader's window has room for (a bounded number per
  // call; the rest in a task posted to this shard).
  void pump(Reader& r);
  void on_commit(const std::string& key);
  void drop_reader(Reader& r, std::string reason);

  static constexpr std::size_t kEntriesPerPump = 512;
  static constexpr std::size_t kReadBytes = 1u << 20;

  ShardId self_;
  Broker& broker_;
  const StreamOptions& options_;
  stream::StreamCommitter* committer_;
  QueueCounts& counts_;
  std::unordered_map<std::string, std::unique_ptr<Stream>> streams_;
  std::unordered_map<ConsumerKey, std::unique_ptr<Reader>> readers_;
  mutable std::string key_scratch_;
  std::uint64_t ticks_ = 0;
};

}  // namespace ferry::broker
