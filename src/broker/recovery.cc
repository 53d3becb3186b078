#include "broker/recovery.h"

#include <spdlog/spdlog.h>

#include "broker/message_codec.h"
#include "broker/durable_subscription.h"

namespace ferry::broker {

void Recovery::apply(const store::ReplayedRecord& r) {
  std::string_view payload(r.payload.data(), r.payload.size());
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
        Entry& old = q.entries.at(it->second);
        journal_.release(old.segment);
        if (!old.paged) kept_bytes_ -= old.message->body.size();
        q.entries.erase(it->second);
        --live_;
      }
      bool paged = false;
      if (kept_bytes_ + rec->message.body.size() > body_budget_) {
        paged = true;
        rec->message.body.clear();
        rec->message.body.shrink_to_fit();
        rec->message.headers.clear();
      } else {
        kept_bytes_ += rec->message.body.size();
      }
      journal_.retain(r.segment);
      const auto key = std::make_pair(rec->stamp, ++seq_);
      max_stamp_ = std::max(max_stamp_, rec->stamp);
      q.by_id[id] = key;
      q.entries.emplace(key, Entry{std::make_shared<Message>(std::move(rec->message)), rec->deliveries,
                                   r.segment, rec->stamp, paged, r.offset});
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
        Entry& gone = qit->second.entries.at(it->second);
        journal_.release(gone.segment);
        if (!gone.paged) kept_bytes_ -= gone.message->body.size();
        qit->second.entries.erase(it->second);
        qit->second.by_id.erase(it);
        --live_;
      } else {
        auto& e = qit->second.entries.at(it->second);
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
        for (auto& [k, e] : qit->second.entries) journal_.release(e.segment);
        live_ -= qit->second.entries.size();
        queues_.erase(qit);
      }
      return;
    }
    case store::RecordType::kBatch:
    case store::RecordType::kCheckpoint:
      return;
  }
}

std::unordered_map<std::string, std::vector<Recovery::Entry>> Recovery::take_queues() {
  std::unordered_map<std::string, std::vector<Entry>> out;
  for (auto& [key, q] : queues_) {
    if (q.entries.empty()) continue;
    auto& v = out[key];
    v.reserve(q.entries.size());
    for (auto& [seq, e] : q.entries) v.push_back(std::move(e));
  }
  queues_.clear();
  return out;
}

}  // namespace ferry::broker
