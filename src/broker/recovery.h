#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/message.h"
#include "store/journal.h"

namespace ferry::broker {

// Rebuilds the broker's persistent state from journal records, oldest first:
// which messages each durable queue still holds (added and not acknowledged),
// in their original order, with their delivery counts, and which durable
// subscriptions exist. Single-threaded, before the shards start.
//
// Liveness is counted as records are replayed (the journal deletes nothing
// during replay, and deletes unretained segments right after it): every live
// message and subscription record ends the replay retained once; whoever
// takes an entry over owns that retain.
class Recovery {
 public:
  // Message bodies beyond `body_budget` bytes are not kept: those entries
  // come back paged out (read from the journal when delivered).
  Recovery(store::Journal& journal, std::uint64_t body_budget)
      : journal_(journal), body_budget_(body_budget) {}

  // A live message. Kept in memory (`message` set) or paged: then only its
  // record's position is kept (segment, offset, index in a batch), and the
  // message is read back from there when delivered (see PagedTail).
  struct Entry {
    MessageRef message;        // null: paged
    std::uint64_t id = 0;
    std::uint64_t stamp = 0;
    store::SegmentId segment;
    std::uint64_t offset = 0;  // of the record (a batch's, for a batch entry)
    std::uint32_t index = 0;   // entry in the batch (0 for a plain record)
    std::uint32_t deliveries = 0;
    std::uint32_t body_bytes = 0;  // of a kept message (for the budget)
    bool live = true;          // false: acknowledged or replaced (a hole)
  };
  struct Subscription {
    std::string record;       // the broker-encoded subscription definition
    store::SegmentId segment; // where that record is (kept alive while it exists)
  };

  void apply(const store::ReplayedRecord& r);

  // Queue journal key -> its live messages in enqueue order.
  std::unordered_map<std::string, std::vector<Entry>> take_queues();
  // Durable subscription key -> definition, for those not removed.
  const std::map<std::string, Subscription>& subscriptions() const { return subscriptions_; }

  std::uint64_t max_message_counter() const { return max_counter_; }
  std::uint64_t max_stamp() const { return max_stamp_; }
  std::uint64_t messages() const { return live_; }
  std::uint64_t undecodable() const { return undecodable_; }

 private:
  struct QueueState {
    // Entries in replay order; a removed one (acknowledged, or replaced by
    // its copy written forward by compaction) keeps its slot, not live,
    // until compact() drops the holes. Records arrive almost always
    // in stamp order; `sorted` says whether take_queues() must sort.
    std::vector<Entry> entries;
    std::unordered_map<std::uint64_t, std::uint32_t> by_id;  // message id -> index in entries
    std::size_t holes = 0;
    bool sorted = true;
    void remove(std::uint32_t index);
    void compact();
  };
  void drop(QueueState& q, std::uint32_t index);
  store::Journal& journal_;
  std::uint64_t body_budget_;
  std::uint64_t kept_bytes_ = 0;
  std::unordered_map<std::string, QueueState> queues_;
  std::map<std::string, Subscription> subscriptions_;
  std::uint64_t max_counter_ = 0;
  std::uint64_t max_stamp_ = 0;
  std::uint64_t live_ = 0;
  std::uint64_t undecodable_ = 0;
  // Position of the previous record: entries of one batch share it.
  store::SegmentId last_segment_;
  std::uint64_t last_offset_ = 0;
  std::uint32_t index_ = 0;
};

}  // namespace ferry::broker
