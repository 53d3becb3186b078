#include "broker/shard_broker.h"

#include <spdlog/spdlog.h>

#include "broker/broker.h"
#include "common/assert.h"
#include "common/clock.h"

namespace ferry::broker {

ShardBroker::ShardBroker(ShardId self, Broker& broker, const BrokerOptions& options)
    : self_(self),
      broker_(broker),
      options_(options),
      memory_limit_(static_cast<std::int64_t>(options.memory_limit / std::max<std::uint32_t>(1, options.shards))) {}

ShardBroker::~ShardBroker() {
  // Topics and queues release their memory into this object as they go.
  topics_.clear();
  queues_.clear();
}

std::int64_t ShardBroker::now_ms() const { return wall_ms(); }

void ShardBroker::reply(const OpTicket& t, Outcome o) {
  broker_.to_client(t.shard, [t, o = std::move(o)](ClientEvents& ev) mutable {
    ev.complete(t.connection, t.op, std::move(o));
  });
}

Queue& ShardBroker::queue_for(const Destination& d) {
  auto& slot = queues_[key_of(d)];
  if (!slot) {
    QueueSettings s;
    s.max_deliveries = options_.max_deliveries;
    s.is_dead_letter_queue = d.name.starts_with(options_.dead_letter_prefix);
    slot = std::make_unique<Queue>(d, s, *this);
    spdlog::debug("queue {} created (vhost {})", slot->name(), d.vhost);
  }
  return *slot;
}

Topic& ShardBroker::topic_for(const Destination& d) {
  auto& slot = topics_[key_of(d)];
  if (!slot) {
    slot = std::make_unique<Topic>(d, options_, *this,
                                   [this](const ConsumerKey& key, std::string reason) {
                                     // The topic has destroyed the subscription's queue.
                                     if (auto it = subscriptions_.find(key); it != subscriptions_.end()) {
                                       topic_of_.erase(it->second.queue);
                                       subscriptions_.erase(it);
                                     }
                                     spdlog::warn("dropping slow topic subscriber: {}", reason);
                                     broker_.to_client(key.shard, [key, reason](ClientEvents& ev) {
                                       ev.kick(key.connection, key.subscription, reason);
                                     });
                                   });
  }
  return *slot;
}

void ShardBroker::publish(const Destination& d, MessageRef m, OpTicket ticket) {
  if (!parked_.empty() || over_limit()) {
    if (options_.memory_policy == MemoryPolicy::kReject) {
      reply(ticket, Outcome::failure("memory limit reached (memory-limit); message refused"));
      return;
    }
    // Producer flow control: the SEND completes when memory frees, and the
    // producer's connection stops reading once its window is spent.
    parked_.push_back(Parked{d, std::move(m), ticket});
    return;
  }
  accept(d, std::move(m), ticket);
}

void ShardBroker::accept(const Destination& d, MessageRef m, OpTicket ticket) {
  if (d.kind == DestinationKind::kQueue) {
    queue_for(d).enqueue(std::move(m));
    reply(ticket, Outcome::success());
    return;
  }
  topic_for(d).publish(std::move(m), [this, ticket](Outcome o) { reply(ticket, std::move(o)); });
}

void ShardBroker::publish_internal(const Destination& d, MessageRef m) {
  if (d.kind == DestinationKind::kQueue) {
    queue_for(d).enqueue(std::move(m));
  } else {
    topic_for(d).publish(std::move(m), [](Outcome) {});
  }
}

void ShardBroker::subscribe(const Destination& d, const ConsumerKey& key, AckMode mode,
                            Window window, OpTicket ticket) {
  if (subscriptions_.contains(key)) {
    reply(ticket, Outcome::failure("subscription already exists"));
    return;
  }
  // The answer goes out before the first delivery, so a client sees its
  // RECEIPT before any MESSAGE of the subscription.
  reply(ticket, Outcome::success());
  Subscription s;
  if (d.kind == DestinationKind::kQueue) {
    s.queue = &queue_for(d);
    subscriptions_.emplace(key, s);
    s.queue->add_consumer(key, mode, window);
  } else {
    s.topic = &topic_for(d);
    s.queue = &s.topic->subscribe(key, mode, window);
    topic_of_[s.queue] = s.topic;
    subscriptions_.emplace(key, s);
  }
}

void ShardBroker::unsubscribe(const ConsumerKey& key, OpTicket ticket) {
  auto it = subscriptions_.find(key);
  if (it != subscriptions_.end()) {
    Subscription s = it->second;
    subscriptions_.erase(it);
    if (s.topic != nullptr) {
      topic_of_.erase(s.queue);
      s.topic->unsubscribe(key);
    } else {
      s.queue->remove_consumer(key);
    }
  }
  reply(ticket, Outcome::success());
}

void ShardBroker::settle(const ConsumerKey& key, std::vector<DeliverySeq> seqs,
                         SettleAction action, OpTicket ticket) {
  auto it = subscriptions_.find(key);
  if (it != subscriptions_.end()) it->second.queue->settle(key, seqs, action);
  reply(ticket, Outcome::success());
}

void ShardBroker::credit(const ConsumerKey& key, std::uint32_t messages, std::uint64_t bytes) {
  auto it = subscriptions_.find(key);
  if (it != subscriptions_.end()) it->second.queue->credit(key, messages, bytes);
}

void ShardBroker::deliver(const ConsumerKey& consumer, Delivery d) {
  broker_.to_client(consumer.shard, [consumer, d = std::move(d)](ClientEvents& ev) mutable {
    ev.deliver(consumer.connection, consumer.subscription, std::move(d));
  });
}

void ShardBroker::dead_letter(const Queue& from, MessageRef m, std::string_view reason) {
  auto copy = std::make_shared<Message>(*m);
  const std::string& from_name = from.name();
  Destination dlq;
  dlq.kind = DestinationKind::kQueue;
  dlq.vhost = from.destination().vhost;
  dlq.name = options_.dead_letter_prefix + from.destination().name;
  copy->destination = dlq.to_string();
  copy->headers.emplace_back("original-destination", std::string(from_name));
  copy->headers.emplace_back("dead-letter-reason", std::string(reason));
  spdlog::debug("message {} from {} dead-lettered to {} ({})", m->id_text, from_name,
                copy->destination, reason);
  broker_.publish_internal(dlq, std::move(copy));
}

void ShardBroker::memory_changed(std::int64_t delta) {
  memory_used_ += delta;
  FERRY_ASSERT(memory_used_ >= 0);
  if (delta < 0 && !parked_.empty()) resume_parked();
}

void ShardBroker::resume_parked() {
  if (resuming_) return;
  resuming_ = true;
  // Resume below 90% so that a full broker does not flap per message.
  const std::int64_t low = memory_limit_ - memory_limit_ / 10;
  while (!parked_.empty() && memory_used_ < low) {
    Parked p = std::move(parked_.front());
    parked_.pop_front();
    accept(p.destination, std::move(p.message), p.ticket);
  }
  resuming_ = false;
}

void ShardBroker::space_freed(Queue& q) {
  auto it = topic_of_.find(&q);
  if (it != topic_of_.end()) it->second->resume();
}

void ShardBroker::tick(std::int64_t now_ms) {
  for (auto it = queues_.begin(); it != queues_.end();) {
    Queue& q = *it->second;
    q.expire(now_ms);
    // A non-durable queue with nothing in it and nobody on it is gone; it is
    // recreated on next use. This bounds memory held by one-off names.
    if (q.idle()) {
      it = queues_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [q, t] : topic_of_) q->expire(now_ms);
  for (auto it = topics_.begin(); it != topics_.end();) {
    if (it->second->idle()) it = topics_.erase(it);
    else ++it;
  }
}

}  // namespace ferry::broker
