// ShardBroker's management surface: snapshots and administrative operations
// for the HTTP API (docs/management.md). Everything here runs on the shard
// that owns the destinations and hands back values, never pointers.
#include <spdlog/spdlog.h>

#include "broker/broker.h"
#include "common/log.h"
#include "broker/message_codec.h"
#include "broker/shard_broker.h"

#include "common/clock.h"

namespace ferry::broker {

using store::RecordType;

void ShardBroker::sample_rates(std::int64_t now_ms) {
  rate_publish_.sample(published_, now_ms);
  rate_deliver_.sample(totals_.dequeued, now_ms);
  rate_ack_.sample(totals_.acked, now_ms);
  rate_redeliver_.sample(totals_.redelivered, now_ms);
  // The queues' rates are sampled by the housekeeping sweep (sweep_queues).
  for (auto& [key, t] : topics_) t->sample_rates(now_ms);
}

ShardStats ShardBroker::stats() const {
  ShardStats s;
  s.published = published_;
  s.totals = totals_;
  s.rate_publish = rate_publish_.per_second();
  s.rate_deliver = rate_deliver_.per_second();
  s.rate_ack = rate_ack_.per_second();
  s.rate_redeliver = rate_redeliver_.per_second();
  auto add = [&](const Queue& q) {
    s.ready += q.depth();
    s.unacked += q.unacked();
    s.consumers += q.consumer_count();
  };
  for (const auto& [key, q] : queues_) add(*q);
  for (const auto& [q, t] : topic_of_) add(*q);
  for (const auto& [key, d] : durable_topics_)
    if (const Queue* q = d.topic->durable(key)) add(*q);
  s.queues = queues_.size();
  s.topics = topics_.size();
  s.memory_used = memory_used_;
  s.memory_overhead = overhead_bytes();
  return s;
}

namespace {
QueueStats stats_of(const Queue& q) {
  QueueStats s;
  s.destination = q.destination();
  s.durable = q.settings().durable;
  s.ready = q.depth();
  s.unacked = q.unacked();
  s.consumers = q.consumer_count();
  s.counters = q.counters();
  s.rate_in = q.rate_in();
  s.rate_out = q.rate_out();
  s.arguments = q.declared_arguments();
  s.policy = q.policy_name();
  s.policy_definition = q.policy_definition();
  s.effective = q.arguments();
  return s;
}
}  // namespace

std::vector<QueueStats> ShardBroker::queue_stats(const std::string& vhost) const {
  std::vector<QueueStats> out;
  for (const auto& [key, q] : queues_)
    if (vhost.empty() || q->destination().vhost == vhost) out.push_back(stats_of(*q));
  return out;
}

std::optional<QueueStats> ShardBroker::queue_stats(const Destination& d) const {
  auto it = queues_.find(key_of(d));
  if (it == queues_.end()) return std::nullopt;
  QueueStats s = stats_of(*it->second);
  s.consumer_list = it->second->consumer_stats();
  s.history = it->second->history();
  return s;
}

std::vector<TopicStats> ShardBroker::topic_stats() const {
  std::vector<TopicStats> out;
  for (const auto& [key, t] : topics_) {
    TopicStats s;
    s.destination = t->destination();
    s.subscribers = t->subscription_count();
    t->for_each_durable([&](Queue& q) {
      ++s.durable_subscriptions;
      if (q.consumer_count() > 0) ++s.subscribers;
    });
    s.published = t->published();
    s.rate_in = t->rate_in();
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<DurableStats> ShardBroker::durable_stats() const {
  std::vector<DurableStats> out;
  for (const auto& [key, d] : durable_topics_) {
    DurableStats s;
    s.topic = d.topic->destination();
    s.name = key.substr(key.rfind('\n') + 1);
    s.owner = d.owner;
    if (const Queue* q = d.topic->durable(key)) {
      s.attached = q->consumer_count() > 0;
      s.ready = q->depth();
      s.unacked = q->unacked();
    }
    out.push_back(std::move(s));
  }
  return out;
}

ShardBroker::DeclareResult ShardBroker::declare_queue(const Destination& d, bool enforce_limit,
                                                     const QueueArguments* args, std::string* mismatch) {
  const bool existed = queues_.contains(key_of(d));
  if (existed && enforce_limit && args != nullptr) {
    Queue& q = *queues_.find(key_of(d))->second;
    // The management API's PUT of an existing queue: the same arguments
    // again are fine; others are refused (RabbitMQ), never applied.
    if (auto differs = QueueArguments::mismatch(*args, q.declared_arguments(), d)) {
      if (mismatch != nullptr) *mismatch = std::move(*differs);
      return DeclareResult::kMismatch;
    }
  }
  Queue* q = enforce_limit ? create_queue(d) : &queue_for(d);
  if (q == nullptr) return DeclareResult::kLimit;
  // Created now, or restored at start-up (recovery may have made the queue
  // for its messages already): it takes the declared arguments.
  if (args != nullptr && (!existed || !enforce_limit)) q->set_arguments(*args);
  q->touch(now_ms());
  // (Not for each queue restored at start-up: there may be 100,000.)
  if (!existed && enforce_limit)
    spdlog::info("queue {} declared (vhost {}) through the management API", log_safe(q->name()),
                            log_safe(d.vhost));
  return existed ? DeclareResult::kExisted : DeclareResult::kCreated;
}

ShardBroker::AdminError ShardBroker::delete_queue(const Destination& d) {
  // Its bindings go with it, as in RabbitMQ (also when the queue itself is
  // not here: a binding may name a queue that was never made).
  unbind_queue(d);
  auto it = queues_.find(key_of(d));
  if (it == queues_.end()) return AdminError::kNotFound;
  Queue& q = *it->second;
  if (q.consumer_count() > 0) return AdminError::kInUse;
  // Without consumers nothing is held: every message is waiting, and each
  // gets its ack record as it goes.
  q.discard_all();
  spdlog::info("queue {} deleted (vhost {}) through the management API", log_safe(q.name()), log_safe(d.vhost));
  erase_queue(it);
  // For good: not back after a restart (the API's answer waits for this
  // record through QueueLog::flush).
  record_deletion(d, {});
  return AdminError::kNone;
}

void ShardBroker::after_journal(std::function<void()> then) {
  if (journal_ == nullptr) return then();
  journal_->flush([this, then = std::move(then)](const store::AppendResult&) mutable {
    broker_.post(self_, std::move(then));
  });
}

void ShardBroker::drop_temporary_queue(const Destination& d) {
  auto it = queues_.find(key_of(d));
  if (it == queues_.end()) return;
  // Its connection's subscriptions went before (posted first, from the
  // same shard): what is left waits for no one.
  it->second->discard_all();
  spdlog::debug("temporary queue {} deleted with its connection (vhost {})", log_safe(d.name), log_safe(d.vhost));
  erase_queue(it);
}

std::optional<std::size_t> ShardBroker::purge_queue(const Destination& d) {
  auto it = queues_.find(key_of(d));
  if (it == queues_.end()) return std::nullopt;
  const std::size_t n = it->second->purge();
  spdlog::info("queue {} purged (vhost {}): {} messages", log_safe(it->second->name()), log_safe(d.vhost), n);
  return n;
}

namespace {

BrowsedMessage browsed(const QueueEntry& e) {
  const MessageRef& m = e.message;
  BrowsedMessage b;
  b.message_id = m->id_text;
  b.headers = m->headers;
  b.body = m->body;
  b.redelivered = e.deliveries > 0;
  b.persistent = m->persistent;
  b.priority = m->priority;
  b.timestamp_ms = static_cast<std::int64_t>(e.stamp / 1000);
  return b;
}

}  // namespace

std::optional<std::vector<BrowsedMessage>> ShardBroker::browse_queue(const Destination& d,
                                                                     std::size_t count) {
  auto it = queues_.find(key_of(d));
  if (it == queues_.end()) return std::nullopt;
  Queue& q = *it->second;
  std::vector<BrowsedMessage> out;
  // Paged messages are read back by browse() itself (not kept).
  q.browse(count, [&](const QueueEntry& e) { out.push_back(browsed(e)); });
  return out;
}

std::optional<std::vector<BrowsedMessage>> ShardBroker::take_messages(const Destination& d, std::size_t count) {
  auto it = queues_.find(key_of(d));
  if (it == queues_.end()) return std::nullopt;
  Queue& q = *it->second;
  std::vector<BrowsedMessage> out;
  for (const QueueEntry& e : q.take_waiting(count)) {
    out.push_back(browsed(e));
    removed(q, e);
  }
  return out;
}

void ShardBroker::publish_admin(const Destination& d, MessageRef m, bool create,
                                std::function<void(Result<bool>)> done) {
  auto it = queues_.find(key_of(d));
  Queue* q = it != queues_.end() ? it->second.get() : nullptr;
  if (q == nullptr && create) {
    q = create_queue(d);
    if (q == nullptr) return done(failure(queue_limit_text(d)));
    record_creation(*q, nullptr);
  }
  if (q == nullptr) return done(false);
  if (journal_ == nullptr || !m->persistent) {
    q->enqueue(std::move(m));
    return done(true);
  }
  std::string key = d.journal_key();
  const std::uint64_t stamp = next_stamp();
  std::vector<std::pair<RecordType, std::string>> records;
  records.emplace_back(RecordType::kMessage, encode_message_record(key, *m, 0, stamp));
  write_batch(std::move(records), [this, d, key = std::move(key), m = std::move(m), stamp, done = std::move(done)](
                                      std::optional<store::SegmentId> segment, std::uint64_t offset,
                                      const std::string& error) {
    if (!segment) return done(failure("the message is not stored", error));
    broker_.enqueue_journaled(d, key, m, *segment, stamp, offset, 0);
    done(true);
  });
}

void ShardBroker::move_messages(const Destination& from, const Destination& to, std::size_t count,
                                std::function<void(std::optional<std::size_t>)> done) {
  auto it = queues_.find(key_of(from));
  if (it == queues_.end()) {
    done(std::nullopt);
    return;
  }
  Queue& source = *it->second;
  std::vector<QueueEntry> entries = source.take_waiting(count);
  const std::size_t moved = entries.size();
  // Answered once every journal record of the move is durable.
  struct Pending {
    std::size_t waiting = 1;
    std::function<void(std::optional<std::size_t>)> done;
    std::size_t moved = 0;
  };
  auto pending = std::make_shared<Pending>();
  pending->done = std::move(done);
  pending->moved = moved;
  auto finish = [pending] {
    if (--pending->waiting == 0) pending->done(pending->moved);
  };
  const std::string to_key = to.journal_key();
  const std::string to_name = to.to_string();
  // take_waiting() read paged ones back (an unreadable one is dropped
  // there, as delivery would drop it; the journal keeps it in `from`).
  for (QueueEntry& e : entries) {
    MessageRef m = e.message;
    MessageRef copy_ref = make_message(*m);
    Message* copy = &copy_ref.writable();
    copy->destination = to_name;
    copy->encoded_headers_1_2.clear();  // it named the old destination
    if (journal_ == nullptr || !copy->persistent) {
      // Not journaled in `from` either (or nothing is): a move in memory.
      record_removal(source, e);
      broker_.publish_internal(to, std::move(copy_ref));
      continue;
    }
    // One atomic record: after a crash the message is in exactly one queue.
    std::vector<std::pair<RecordType, std::string>> records;
    if (e.segment != 0)
      records.emplace_back(RecordType::kAck, encode_message_ref(source.settings().journal_key, m->id));
    const std::uint64_t stamp = next_stamp();
    records.emplace_back(RecordType::kMessage, encode_message_record(to_key, *copy, 0, stamp));
    const auto index = static_cast<std::uint32_t>(records.size() - 1);
    MessageRef moving = std::move(copy_ref);
    ++pending->waiting;
    const store::SegmentId held_in(e.segment);
    write_batch(std::move(records), [this, to, to_key, moving, stamp, index, finish, held_in](
                                        std::optional<store::SegmentId> segment, std::uint64_t offset,
                                        const std::string&) {
      // Not recorded (disk full): moved in memory; its record in `from`
      // keeps its segment, so after a restart the message is back in
      // `from`, never lost. Released only once the move is durable.
      if (segment) {
        broker_.enqueue_journaled(to, to_key, moving, *segment, stamp, offset, index);
        if (held_in.value != 0) journal_->release(held_in);
      } else {
        broker_.publish_internal(to, moving);
      }
      finish();
    });
  }
  spdlog::info("moving {} messages from {} to {} (vhost {})", pending->moved, log_safe(source.name()), log_safe(to_name),
               log_safe(from.vhost));
  finish();
}

}  // namespace ferry::broker
