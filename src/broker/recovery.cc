#include "broker/recovery.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/message_codec.h"
#include "broker/durable_subscription.h"

namespace ferry::broker {

void Recovery::apply(const store::ReplayedRecord& r) {
  std::string_view payload(r.payload.data(), r.payload.size());
  // Entries of a batch come one after another with the batch's position.
  if (r.segment == last_segment_ && r.offset == last_offset_) {
    ++index_;
  } else {
    last_segment_ = r.segment;
    last_offset_ = r.offset;
    index_ = 0;
  }
  switch (r.type) {
    case store::RecordType::kMessage: {
      auto rec = decode_message_record(payload);
      if (!rec) {
        ++undecodable_;
        spdlog::error("recovery: undecodable message record in segment {} at offset {}",
                      r.segment.value, r.offset);
        return;
      }
      max_counter_ = std::max<std::uint64_t>(max_counter_, rec->message.id.value & ((1ull << 56) - 1));
      QueueState& q = queues_[rec->queue];
      const std::uint64_t id = rec->message.id.value;
      if (auto it = q.by_id.find(id); it != q.by_id.end()) {
        // A copy written forward by compaction replaces the older one.
        drop(q, it->second);
        q.by_id.erase(it);
      }
      Entry e;
      e.id = id;
      e.stamp = rec->stamp;
      e.segment = r.segment;
      e.offset = r.offset;
      e.index = index_;
      e.deliveries = rec->deliveries;
      // Past the budget only the position is kept (a few dozen bytes here,
      // a few bytes once in the queue's paged tail).
      if (kept_bytes_ + rec->message.body.size() <= body_budget_) {
        e.body_bytes = static_cast<std::uint32_t>(rec->message.body.size());
        kept_bytes_ += e.body_bytes;
        e.message = make_message(std::move(rec->message));
      }
      journal_.retain(r.segment);
      max_stamp_ = std::max(max_stamp_, rec->stamp);
      if (!q.entries.empty() && rec->stamp < q.entries.back().stamp) q.sorted = false;
      if (q.holes > 1024 && q.holes > q.entries.size() / 2) q.compact();
      q.by_id[id] = static_cast<std::uint32_t>(q.entries.size());
      q.entries.push_back(std::move(e));
      ++live_;
      return;
    }
    case store::RecordType::kAck:
    case store::RecordType::kDeliveries: {
      auto ref = decode_message_ref(payload);
      if (!ref) {
        ++undecodable_;
        return;
      }
      auto qit = queues_.find(ref->queue);
      if (qit == queues_.end()) return;  // its add record was in a deleted segment
      auto it = qit->second.by_id.find(ref->id.value);
      if (it == qit->second.by_id.end()) return;
      if (r.type == store::RecordType::kAck) {
        drop(qit->second, it->second);
        qit->second.by_id.erase(it);
      } else {
        auto& e = qit->second.entries[it->second];
        e.deliveries = std::max(e.deliveries, ref->deliveries);
      }
      return;
    }
    case store::RecordType::kSubscription: {
      auto key = subscription_key_of(payload);
      if (!key) {
        ++undecodable_;
        return;
      }
      if (auto old = subscriptions_.find(*key); old != subscriptions_.end())
        journal_.release(old->second.segment);
      journal_.retain(r.segment);
      subscriptions_[*key] = Subscription{std::string(payload), r.segment};
      return;
    }
    case store::RecordType::kUnsubscription: {
      auto key = subscription_key_of(payload);
      if (!key) {
        ++undecodable_;
        return;
      }
      if (auto old = subscriptions_.find(*key); old != subscriptions_.end()) {
        journal_.release(old->second.segment);
        subscriptions_.erase(old);
      }
      // The subscription's queue goes with it.
      if (auto qit = queues_.find(*key); qit != queues_.end()) {
        for (auto& e : qit->second.entries) {
          if (!e.live) continue;
          journal_.release(e.segment);
          kept_bytes_ -= e.body_bytes;
          --live_;
        }
        queues_.erase(qit);
      }
      return;
    }
    case store::RecordType::kBatch:
    case store::RecordType::kCheckpoint:
      return;
  }
}

void Recovery::drop(QueueState& q, std::uint32_t index) {
  Entry& e = q.entries[index];
  journal_.release(e.segment);
  kept_bytes_ -= e.body_bytes;
  e.message.reset();
  e.live = false;
  ++q.holes;
  --live_;
}

void Recovery::QueueState::compact() {
  std::erase_if(entries, [](const Entry& e) { return !e.live; });
  holes = 0;
  by_id.clear();
  for (std::uint32_t i = 0; i < entries.size(); ++i) by_id[entries[i].id] = i;
}

std::unordered_map<std::string, std::vector<Recovery::Entry>> Recovery::take_queues() {
  std::unordered_map<std::string, std::vector<Entry>> out;
  for (auto& [key, q] : queues_) {
    std::erase_if(q.entries, [](const Entry& e) { return !e.live; });
    q.by_id = {};
    if (q.entries.empty()) continue;
    // Enqueue order is stamp order; replay order breaks ties.
    if (!q.sorted) {
      std::stable_sort(q.entries.begin(), q.entries.end(),
                       [](const Entry& a, const Entry& b) { return a.stamp < b.stamp; });
    }
    out[key] = std::move(q.entries);
  }
  queues_.clear();
  return out;
}

}  // namespace ferry::broker
