#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "broker/delivery.h"
#include "broker/destination.h"
#include "common/recycling_allocator.h"
#include "common/strong_id.h"
#include "net/connection_info.h"
#include "session/recent_ids.h"
#include "stomp/frame.h"

namespace ferry::session {

// A delivery awaiting ACK/NACK (client modes).
struct Held {
  DeliverySeq seq;
  std::uint64_t written = 0;  // its MESSAGE was the subscription's n-th written
  broker::MessageRef message;
};

// One SUBSCRIBE of a connection: what the connection must remember to
// resolve the ACK/NACK headers that name its deliveries, and an auto-ack
// subscription's window credit. The queue on the destination's shard keeps
// the authoritative delivery state.
struct Subscription {
  SubscriptionNo no;
  std::string id;
  // "subscription:<id>\n" as this connection's STOMP version escapes it
  // (made at the subscription's first MESSAGE).
  std::string subscription_line;
  broker::Destination destination;
  ShardId owner;
  broker::AckMode mode = broker::AckMode::kAuto;
  bool durable = false;
  std::string durable_name;
  // A SUBSCRIBE to /exchange/NAME/PATTERN: `destination` is its own
  // temporary queue, bound to the exchange, deleted (bindings and all) with
  // the subscription.
  bool exchange_queue = false;
  std::uint32_t prefetch = 0;  // the window's message count
  std::deque<Held, RecyclingAllocator<Held>> held;  // sorted by seq (not always the order written)
  std::uint64_t written = 0;  // MESSAGE frames written (client modes)
  DeliverySeq acked_through{0};  // client mode: highest seq a cumulative ACK named
  // client mode: message-ids that a cumulative ACK took along with the one
  // it named (the last 1,024: enough for the frames in flight to a client,
  // about 40 KB at most), so a 1.0/1.1 client acking one of them by
  // message-id afterwards is not an error.
  RecentIds covered_ids{1024};
  std::uint32_t credit_messages = 0;  // auto mode: written, not yet returned
  std::uint64_t credit_bytes = 0;
  bool awaiting_receipt = false;      // SUBSCRIBE's RECEIPT not written yet
  std::vector<broker::Delivery> early;  // deliveries that arrived before it
  std::uint32_t queued_messages = 0;  // auto mode: encoded, not yet written
  std::uint64_t queued_bytes = 0;
};

// A connection's subscriptions, by id and by number, and the ack tracking
// over them: which held delivery an ACK/NACK names, client mode's
// cumulative acks, and when an auto-ack window's credit goes back.
class Subscriptions {
 public:
  bool contains(std::string_view id) const { return by_id_.contains(std::string(id)) || browsers_.contains(std::string(id)); }
  // Subscriptions and browsers together (max-subscriptions counts both).
  std::size_t count() const { return by_id_.size() + browsers_.size(); }
  std::size_t size() const { return by_id_.size(); }
  SubscriptionNo next_no() { return SubscriptionNo(++next_no_); }

  Subscription& add(std::unique_ptr<Subscription> s);
  Subscription* find(SubscriptionNo no) const;
  Subscription* find(const std::string& id) const;
  // Removes and returns the subscription `id` (null: none).
  std::unique_ptr<Subscription> remove(std::string_view id);
  // Removes `no` (the broker dropped it).
  void forget(SubscriptionNo no);
  // Everything, for the connection's close.
  std::vector<std::unique_ptr<Subscription>> take_all();

  // SUBSCRIBE browser:true keeps only its id (the broker holds nothing).
  void add_browser(std::string id) { browsers_.insert(std::move(id)); }
  bool has_browser(const std::string& id) const { return browsers_.contains(id); }
  bool remove_browser(const std::string& id) { return browsers_.erase(id) != 0; }

  // The held delivery an ACK/NACK names by ack tag (`id` at 1.2, `ack`) or
  // by message-id (optionally within `subscription`).
  struct AckTarget {
    Subscription* sub = nullptr;
    std::size_t index = 0;  // into sub->held
  };
  std::optional<AckTarget> resolve_ack(const stomp::Frame& f) const;
  // An ACK naming a client-mode delivery that an earlier cumulative ACK
  // already took (by ack tag: a sequence up to the highest one named; by
  // message-id: one of covered_ids, forgotten once matched).
  bool covered_by_cumulative_ack(const stomp::Frame& f);
  // Client mode: takes the named delivery and every one written before it.
  static void take_cumulative(Subscription& s, std::size_t index, bool ack, broker::DeliverySeqs& seqs);
  // Records a delivery written to the client: held (client modes) or
  // counted for the window credit that goes back once it is written
  // (auto).
  void written(Subscription& s, broker::Delivery d);

  // Auto-ack credit: what was encoded so far is in the write that starts
  // now / that write is done (fn(subscription, messages, bytes) gives the
  // credit back).
  void flush_started();
  template <typename Fn>
  void flush_done(Fn fn);

  std::size_t unacked_count() const;
  std::vector<net::SubscriptionInfo> describe() const;

 private:
  std::uint32_t next_no_ = 0;
  std::unordered_map<std::string, std::unique_ptr<Subscription>> by_id_;
  std::unordered_map<SubscriptionNo, Subscription*> by_no_;
  std::unordered_set<std::string> browsers_;  // ids of browser:true subscriptions
  std::vector<SubscriptionNo> credit_dirty_;    // auto subs with encoded, unsent messages
  std::vector<SubscriptionNo> credit_swap_;     // flush_done()'s list (reused)
  std::vector<SubscriptionNo> credit_writing_;  // auto subs with messages in the current write
};

template <typename Fn>
void Subscriptions::flush_done(Fn fn) {
  // Swapped with a member so that both keep their capacity.
  std::vector<SubscriptionNo>& writing = credit_swap_;
  writing.clear();
  writing.swap(credit_writing_);
  for (SubscriptionNo no : writing) {
    Subscription* s = find(no);
    if (s == nullptr || s->credit_messages == 0) continue;
    fn(*s, s->credit_messages, s->credit_bytes);
    s->credit_messages = 0;
    s->credit_bytes = 0;
  }
}

}  // namespace ferry::session
