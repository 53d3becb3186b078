#include "broker/shard_broker.h"

#include "broker/x_death.h"

#include <spdlog/spdlog.h>

#include <tuple>

#include "broker/broker.h"
#include "broker/declared_queues.h"
#include "broker/queue_log.h"
#include "broker/x_death.h"
#include "common/log.h"
#include "broker/message_codec.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/recycling_allocator.h"

namespace ferry::broker {

using store::RecordType;

ShardBroker::ShardBroker(ShardId self, Broker& broker, const BrokerOptions& options,
                         store::Journal* journal)
    : self_(self),
      broker_(broker),
      options_(options),
      journal_(journal),
      memory_limit_(static_cast<std::int64_t>(options.memory_limit /
                                              std::max<std::uint32_t>(1, options.shards))),
      streams_(std::make_unique<StreamStore>(self, broker, options.streams, broker.stream_committer(),
                                             broker.stream_counts())) {}

ShardBroker::~ShardBroker() {
  // Topics and queues release their memory into this object as they go.
  topics_.clear();
  queues_.clear();
}

std::int64_t ShardBroker::now_ms() const { return wall_ms(); }

void ShardBroker::scheduled_changed(std::int64_t delta) {
  broker_.scheduled_messages().fetch_add(delta, std::memory_order_relaxed);
}

void ShardBroker::reply(const OpTicket& t, Outcome o) {
  broker_.to_client(t.shard, [t, o = std::move(o)](ClientEvents& ev) mutable {
    ev.complete(t.connection, t.op, std::move(o));
  });
}

// ------------------------------------------------------------ operations

ShardBroker::OpRef ShardBroker::begin(std::optional<OpTicket> ticket) {
  // Recycled: every SEND and ACK has one.
  auto op = std::allocate_shared<Op>(RecyclingAllocator<Op>());
  op->ticket = ticket;
  return op;
}

void ShardBroker::end(const OpRef& op) {
  FERRY_ASSERT(op->waiting > 0);
  if (--op->waiting == 0 && op->ticket) reply(*op->ticket, std::move(op->outcome));
}

store::SegmentId ShardBroker::write(RecordType type, std::string_view payload, const OpRef& op,
                                    std::uint32_t retains) {
  if (journal_ == nullptr) return store::SegmentId();
  OpRef waiter = op ? op : current_;
  if (waiter) ++waiter->waiting;
  // The completion hands its references on (it is destroyed on the journal's
  // thread; the last reference should go on this shard, whose pool the Op
  // returns to).
  return journal_->append_retained(type, payload, retains, [this, waiter](const store::AppendResult& r) mutable {
    if (!waiter) return;
    broker_.post(self_, [this, waiter = std::move(waiter), r = r] {
      if (!r.ok && waiter->outcome.ok) waiter->outcome = Outcome::failure(r.error);
      end(waiter);
    });
  });
}

void ShardBroker::write_batch(std::vector<std::pair<RecordType, std::string>> records,
                              BatchDone then, std::uint32_t retains) {
  auto segment = std::make_shared<store::SegmentId>();
  // The completion is posted back to this shard, so it runs after the
  // current task, by which time `segment` is set.
  *segment = journal_->append_batch_retained(records, retains, [this, segment, retains, then = std::move(then)](
                                                          const store::AppendResult& r) {
    broker_.post(self_, [this, segment, retains, then, r] {
      if (r.ok) {
        then(*segment, r.offset, r.error);  // owns the retains from here
      } else {
        for (std::uint32_t i = 0; i < retains; ++i) journal_->release(*segment);
        spdlog::error("journal batch write failed: {}", r.error);
        then(std::nullopt, 0, r.error);
      }
    });
  });
}

// ------------------------------------------------------------ destinations

QueueSettings ShardBroker::durable_settings(std::string journal_key) const {
  QueueSettings s;
  s.max_deliveries = options_.max_deliveries;
  s.durable = journal_ != nullptr;
  s.journal_key = std::move(journal_key);
  return s;
}

std::unique_ptr<Queue> ShardBroker::make_queue(const Destination& d) {
  QueueSettings s = durable_settings(d.journal_key());
  if (is_temporary_queue(d)) s.durable = false;  // gone with its connection: nothing to recover
  s.max_groups = options_.max_groups_per_queue;
  s.is_dead_letter_queue = d.name.starts_with(options_.dead_letter_prefix) ||
                           (!options_.dead_letter_queue.empty() && d.name == options_.dead_letter_queue);
  auto q = std::make_unique<Queue>(d, s, *this);
  apply_policy(*q);
  spdlog::debug("queue {} created (vhost {})", log_safe(q->name()), log_safe(d.vhost));
  return q;
}

void ShardBroker::apply_policy(Queue& q) const {
  // A temporary queue lives and dies with its connection: no policy (its
  // name is the broker's, not one an operator could write a pattern for).
  if (is_temporary_queue(q.destination())) return;
  const Policy* p = policies_ ? policies_->for_queue(q.destination().vhost, q.destination().name) : nullptr;
  if (p == nullptr) q.set_policy({}, {});
  else q.set_policy(p->name, p->definition);
}

void ShardBroker::set_policies(std::shared_ptr<const PolicySet> policies) {
  policies_ = std::move(policies);
  if (policies_ && policies_->empty()) policies_.reset();
  broker_.exchanges(self_).set_policies(policies_);  // alternate-exchange
  // Rare (an operator's change) and bounded: max-queues names, each matched
  // in linear time against at most max-policies patterns.
  for (auto& [key, q] : queues_) apply_policy(*q);
}

Queue& ShardBroker::queue_for(const Destination& d) {
  auto& slot = queues_[key_of(d)];
  if (!slot) {
    // The broker's own creations (recovery, dead letters, a parked SEND
    // whose queue was deleted meanwhile) count but are never refused.
    broker_.queue_counts().add(d.vhost);
    slot = make_queue(d);
  }
  return *slot;
}

Queue* ShardBroker::create_queue(const Destination& d) {
  if (auto it = queues_.find(key_of(d)); it != queues_.end()) return it->second.get();
  if (!broker_.queue_counts().try_add(d.vhost)) return nullptr;
  auto& slot = queues_[key_of(d)];
  slot = make_queue(d);
  return slot.get();
}

void ShardBroker::record_creation(const Queue& q, const OpRef& op) {
  QueueLog* log = broker_.queue_log();
  if (log == nullptr || !q.settings().durable) return;
  OpRef waiter = op;
  if (waiter) ++waiter->waiting;
  const Destination& d = q.destination();
  log->created(d.vhost, d.name, [this, waiter = std::move(waiter), name = d.to_string()](const Status& st) mutable {
    if (!st)
      spdlog::error("queue {} is not remembered across a restart (it comes back only with persistent messages): {}",
                    log_safe(name), log_safe(st.error().text()));
    if (!waiter) return;
    // Not refused on a failed write (a full disk): the queue works; only
    // an empty one is not back after a restart, as a non-persistent
    // message is not (persistent messages are refused by their own write).
    // The last reference to the Op goes on this shard (its pool's).
    broker_.post(self_, [this, waiter = std::move(waiter)] { end(waiter); });
  });
}

void ShardBroker::record_deletion(const Destination& d, std::function<void(const Status&)> done) {
  QueueLog* log = broker_.queue_log();
  if (log == nullptr || is_temporary_queue(d)) {
    if (done) done(Status{});
    return;
  }
  log->deleted(d.vhost, d.name, [this, done = std::move(done), name = d.to_string()](const Status& st) {
    if (!st)
      spdlog::error("the deletion of queue {} is not stored: it comes back (empty) after a restart: {}",
                    log_safe(name), log_safe(st.error().text()));
    if (done) broker_.post(self_, [done, st] { done(st); });
  });
}

Queue* ShardBroker::declare_for_client(const Destination& d, const QueueArguments& args, bool may_create,
                                       Outcome& outcome, bool& created) {
  created = false;
  if (auto it = queues_.find(key_of(d)); it != queues_.end()) {
    Queue& q = *it->second;
    // RabbitMQ: a queue's arguments are fixed; a declaration with others is
    // refused (PRECONDITION_FAILED) and changes nothing.
    if (auto differs = QueueArguments::mismatch(args, q.declared_arguments(), d)) {
      outcome = Outcome::failure(std::move(*differs));
      return nullptr;
    }
    q.touch(now_ms());  // a declaration is a use (x-expires)
    return &q;
  }
  if (!may_create) {
    outcome = Outcome::not_created(d.to_string());
    return nullptr;
  }
  if (is_temporary_queue(d)) {
    outcome = Outcome::failure("a temporary queue takes no queue arguments: " + d.to_string());
    return nullptr;
  }
  Queue* q = create_queue(d);
  if (q == nullptr) {
    outcome = Outcome::failure(queue_limit_text(d));
    return nullptr;
  }
  created = true;
  q->set_arguments(args);
  spdlog::info("queue {} declared with arguments (vhost {})", log_safe(q->name()), log_safe(d.vhost));
  if (args.queue_type == "quorum")
    spdlog::info("queue {}: x-queue-type quorum is served as a classic durable queue (Ferry has no replicated "
                 "queues yet)",
                 log_safe(q->name()));
  return q;
}

void ShardBroker::answer_declaration(const Queue& q, bool created, OpTicket ticket) {
  if (!created || !broker_.remembers_declarations() || !q.settings().durable) {
    reply(ticket, Outcome::success());
    return;
  }
  // Remembered with its arguments across restarts, as a queue declared
  // through the management API is; the answer waits for the file.
  broker_.remember_declaration(q.destination(), q.declared_arguments(), [this, d = q.destination(), ticket](const Status& stored) {
    if (!stored)
      spdlog::error("the arguments of queue {} could not be stored: {}", log_safe(d.to_string()),
                    log_safe(stored.error().text()));
    reply(ticket, stored ? Outcome::success()
                         : Outcome::failure("queue arguments not stored: " + stored.error().text()));
  });
}

void ShardBroker::apply_arguments(const Queue& q, MessageRef& m) {
  const QueueArguments& a = q.arguments();
  if (!a.message_ttl && !a.max_priority) return;
  std::int64_t expires = m->expires_ms;
  std::uint8_t priority = m->priority;
  if (a.message_ttl) {
    // The earlier of the message's own expiry and the queue's TTL, counted
    // from now (RabbitMQ: from when it enters the queue).
    const std::int64_t at = wall_ms() + static_cast<std::int64_t>(*a.message_ttl);
    if (expires == 0 || at < expires) expires = at;
  }
  // RabbitMQ: a priority above x-max-priority counts as x-max-priority.
  if (a.max_priority && priority > *a.max_priority) priority = *a.max_priority;
  if (expires == m->expires_ms && priority == m->priority) return;
  MessageRef copy = make_message(*m);  // m may be shared (a topic's fan-out)
  Message& w = copy.writable();
  w.expires_ms = expires;
  w.priority = priority;
  m = std::move(copy);
}

void ShardBroker::publish_declaring(const Destination& d, MessageRef m, OpTicket ticket, bool may_create,
                                    const QueueArguments& args) {
  Outcome outcome;
  bool created = false;
  Queue* q = declare_for_client(d, args, may_create, outcome, created);
  if (q == nullptr) {
    // Both answers fail: the declaration's, and the publish's (not done).
    reply(ticket, outcome);
    reply(ticket, std::move(outcome));
    return;
  }
  answer_declaration(*q, created, ticket);
  publish(d, std::move(m), ticket, may_create);
}

std::string ShardBroker::full_queue_text(const Queue& q) {
  const QueueArguments& a = q.arguments();
  const Destination& d = q.destination();
  std::string limits;
  if (a.max_length) limits += "x-max-length " + std::to_string(*a.max_length) + ", ";
  if (a.max_length_bytes) limits += "x-max-length-bytes " + std::to_string(*a.max_length_bytes) + ", ";
  return "queue '" + d.name + "' in vhost '" + d.vhost + "' is full (" + limits + "x-overflow " +
         (a.overflow_mode() == Overflow::kRejectPublish ? "reject-publish" : "reject-publish-dlx") + ")";
}

std::string ShardBroker::queue_limit_text(const Destination& d) const {
  return "queue limit reached (max-queues " + std::to_string(options_.max_queues) + " in vhost '" + d.vhost +
         "'); " + d.to_string() + " not created";
}

void ShardBroker::erase_queue(std::unordered_map<std::string, std::unique_ptr<Queue>>::iterator it) {
  // The housekeeping sweep goes on from the queue after this one.
  if (sweep_next_ && *sweep_next_ == it->first) {
    auto next = std::next(it);
    if (next == queues_.end()) sweep_next_.reset();
    else sweep_next_ = next->first;
  }
  broker_.queue_counts().remove(it->second->destination().vhost);
  queues_.erase(it);
}

std::int64_t ShardBroker::overhead_bytes() const {
  const auto queues = queues_.size() + topic_of_.size() + durable_topics_.size();
  return static_cast<std::int64_t>(queues * kQueueOverhead + subscriptions_.size() * kSubscriptionOverhead +
                                   topics_.size() * kTopicOverhead);
}

Topic& ShardBroker::topic_for(const Destination& d) {
  auto& slot = topics_[key_of(d)];
  if (!slot) {
    slot = std::make_unique<Topic>(d, options_, *this,
                                   [this](const ConsumerKey& key, std::string reason) {
                                     // The topic has destroyed the subscription's queue.
                                     if (auto it = subscriptions_.find(key); it != subscriptions_.end()) {
                                       topic_of_.erase(it->second.queue);
                                       if (it->second.topic != nullptr) forget_pattern(it->second.topic->destination());
                                       subscriptions_.erase(it);
                                     }
                                     spdlog::warn("dropping slow topic subscriber: {}", log_safe(reason));
                                     broker_.to_client(key.shard, [key, reason](ClientEvents& ev) {
                                       ev.kick(key.connection, key.subscription, reason);
                                     });
                                   },
                                   // A large fan-out goes on in later turns (fairness).
                                   [this](std::function<void()> next) { broker_.post(self_, std::move(next)); });
  }
  return *slot;
}

Queue* ShardBroker::queue_by_journal_key(const std::string& key) {
  // An existing queue first, by its key ("q:" + key_of()) in key_scratch_:
  // every persistent message comes this way, and a Destination made from
  // the key would copy a long name.
  if (key.starts_with("q:")) {
    key_scratch_.assign(key, 2);
    if (auto it = queues_.find(key_scratch_); it != queues_.end()) return it->second.get();
  }
  if (auto d = destination_from_journal_key(key)) return &queue_for(*d);
  auto it = durable_topics_.find(key);
  return it == durable_topics_.end() ? nullptr : it->second.topic->durable(key);
}

// ------------------------------------------------------------ publishing

void ShardBroker::publish(const Destination& d, MessageRef m, OpTicket ticket, bool may_create, bool routed) {
  if (d.kind == DestinationKind::kStream) return streams_->publish(d, m, ticket, may_create);
  Queue* created = nullptr;  // made by this SEND: its answer waits for the queue's record
  if (d.kind == DestinationKind::kQueue) {
    const auto found = queues_.find(key_of(d));  // one lookup per SEND
    const bool exists = found != queues_.end();
    if (!exists && (!may_create || is_temporary_queue(d))) {
      // Only its connection's subscription makes a temporary queue: a reply
      // to one whose connection has gone is dropped, as RabbitMQ drops an
      // unroutable message (the replier is not at fault).
      if (is_temporary_queue(d)) {
        ++dropped_replies_;
        reply(ticket, Outcome::success());
        return;
      }
      reply(ticket, Outcome::not_created(d.to_string()));
      return;
    }
    // Behind a deferred SEND to the same queue, or past this turn's budget
    // of new queues: later (see defer_creation).
    if ((!exists && creations_left_ == 0) || (!deferred_keys_.empty() && deferred_keys_.contains(key_of(d)))) {
      defer_creation(d, std::move(m), ticket);
      return;
    }
    if (!exists) {
      created = create_queue(d);
      if (created == nullptr) {
        reply(ticket, Outcome::failure(queue_limit_text(d)));
        return;
      }
      --creations_left_;
    } else if (Queue& q = *found->second; q.arguments().bounded() &&
               q.arguments().overflow_mode() != Overflow::kDropHead &&
               q.over_limit(m->body.size(), q.admitting(), q.admitting_bytes())) {
      // x-overflow reject-publish: a full queue refuses the message (the
      // SEND gets an ERROR); reject-publish-dlx also dead-letters it.
      const QueueArguments& a = q.arguments();
      if (a.overflow_mode() == Overflow::kRejectPublishDlx && a.dead_letters())
        dead_letter(q, QueueEntry{m, 0, 0, 0, 0}, "maxlen");
      reply(ticket, Outcome::failure("message refused: " + full_queue_text(q)));
      return;
    }
  }
  // A persistent message for a queue (or a topic with only durable
  // subscriptions) needs no memory to wait in: past the limit it is paged
  // out to the journal (see admit), so it is not parked.
  bool pageable = journal_ != nullptr && m->persistent;
  if (pageable && d.kind == DestinationKind::kTopic) {
    auto it = topics_.find(key_of(d));
    pageable = it != topics_.end() && it->second->subscription_count() == 0;
  }
  if ((!parked_.empty() || over_limit()) && !pageable) {
    if (options_.memory_policy == MemoryPolicy::kReject) {
      reply(ticket, Outcome::failure("memory limit reached (memory-limit); message refused"));
      return;
    }
    // Producer flow control: the SEND completes when memory frees, and the
    // producer's connection stops reading once its window is spent.
    OpRef op;
    if (created != nullptr) {
      op = begin(ticket);
      record_creation(*created, op);
    }
    parked_.push_back(Parked{d, std::move(m), ticket, routed, std::move(op)});
    return;
  }
  OpRef op = begin(ticket);
  if (created != nullptr) record_creation(*created, op);
  accept(d, std::move(m), std::move(op), routed);
}

void ShardBroker::forget_pattern(const Destination& topic) {
  if (TopicPatterns::is_pattern(topic.name)) broker_.remove_topic_pattern(topic);
}

void ShardBroker::defer_creation(const Destination& d, MessageRef m, OpTicket ticket) {
  // Fairness (issue 18 item 10): a burst of SENDs to new names (100,000
  // queues) held every other connection of the shard for seconds. Past
  // kCreationsPerTurn new queues, the rest wait for a later turn of the
  // loop, in order; a SEND to a queue that has one waiting waits behind it
  // (deferred_keys_), so one producer's messages to a queue keep their
  // order. SENDs to other existing queues go on meanwhile.
  deferred_keys_.insert(key_of(d));
  deferred_.push_back(Parked{d, std::move(m), ticket});
  if (deferred_posted_) return;
  deferred_posted_ = true;
  broker_.post(self_, [this] {
    deferred_posted_ = false;
    creations_left_ = kCreationsPerTurn;
    auto batch = std::move(deferred_);
    deferred_.clear();
    deferred_keys_.clear();  // the ones deferred again put theirs back
    for (Parked& p : batch) publish(p.destination, std::move(p.message), p.ticket);
  });
}

void ShardBroker::accept(const Destination& d, MessageRef m, OpRef op, bool routed) {
  if (!routed) ++published_;
  if (d.kind == DestinationKind::kQueue) {
    Queue& q = queue_for(d);
    apply_arguments(q, m);
    admit(q, m, op);
    end(op);
    return;
  }
  Topic& topic = topic_for(d);
  topic.publish(m, [this, &topic, m, op](Outcome) {
    // Non-durable subscribers have it; now the durable ones.
    topic.for_each_durable([&](Queue& q) { admit(q, m, op); });
    end(op);
  });
}

void ShardBroker::admit(Queue& q, const MessageRef& m, const OpRef& op) {
  if (journal_ == nullptr || !m->persistent || !q.settings().durable) {
    q.enqueue(m);
    return;
  }
  if (options_.disk_limit != 0 && journal_->disk_bytes() >= options_.disk_limit) {
    if (op->outcome.ok)
      op->outcome = Outcome::failure("disk limit reached (disk-limit); persistent message refused");
    return;
  }
  ++op->waiting;
  // Counted against x-max-length until it is in (reject-publish).
  q.note_admitting(m->body.size(), true);
  const std::uint64_t stamp = next_stamp();
  encode_message_record(scratch_, q.settings().journal_key, *m, 0, stamp);
  // Retained as it is appended: its segment cannot be deleted meanwhile.
  // The result names that segment, also when the append failed. The
  // completion hands its references on to the task it posts (see write()).
  journal_->append_retained(
      RecordType::kMessage, scratch_, 1,
      [this, key = q.journal_key_ref(), m = m, op = op, stamp](const store::AppendResult& r) mutable {
        broker_.post(self_, [this, key = std::move(key), m = std::move(m), op = std::move(op), r = r, stamp] {
          if (Queue* q = find_journaled_queue(*key)) q->note_admitting(m->body.size(), false);
          if (r.ok) {
            enqueue_journaled(*key, m, r.segment, stamp, r.offset, 0);
          } else {
            journal_->release(r.segment);
            if (op->outcome.ok)
              op->outcome = Outcome::failure(r.error + "; message not stored");
          }
          end(op);
        });
      });
}

std::size_t ShardBroker::page_in(const Queue& q, std::span<const PagedPosition> ps,
                                 std::uint64_t max_bytes, std::vector<QueueEntry>& out) {
  return read_paged(q, ps, max_bytes, out, true);
}

std::size_t ShardBroker::page_in_copy(const Queue& q, std::span<const PagedPosition> ps,
                                      std::uint64_t max_bytes, std::vector<QueueEntry>& out) {
  return read_paged(q, ps, max_bytes, out, false);
}

std::size_t ShardBroker::read_paged(const Queue& q, std::span<const PagedPosition> ps,
                                    std::uint64_t max_bytes, std::vector<QueueEntry>& out,
                                    bool release_unreadable) {
  const std::string& key = q.settings().journal_key;
  std::uint64_t bytes = 0;
  std::size_t i = 0;
  auto take = [&](const PagedPosition& p, std::span<const char> payload) {
    auto rec = decode_message_record(std::string_view(payload.data(), payload.size()));
    if (!rec || rec->queue != key) return false;
    bytes += payload.size();
    QueueEntry e;
    e.deliveries = std::max(rec->deliveries, p.deliveries);
    e.segment = p.segment;
    e.stamp = rec->stamp;
    e.message = make_message(std::move(rec->message));
    out.push_back(std::move(e));
    return true;
  };
  while (i < ps.size() && (i == 0 || bytes < max_bytes)) {
    // One read covers the following positions of the same segment as long
    // as they come in file order (they usually do: a backlog is appended
    // in enqueue order).
    const std::uint64_t seg = ps[i].segment;
    std::size_t j = i;
    const std::uint64_t span = std::max<std::uint64_t>(64 << 10, max_bytes - std::min(bytes, max_bytes));
    journal_->read_span(store::SegmentId(seg), ps[i].offset, span,
                        [&](std::uint64_t off, std::uint32_t index, RecordType type,
                            std::span<const char> payload) {
                          if (j >= ps.size() || ps[j].segment != seg) return false;
                          if (std::tie(off, index) < std::tie(ps[j].offset, ps[j].index)) return true;
                          if (std::tie(off, index) > std::tie(ps[j].offset, ps[j].index)) return false;
                          if (type != RecordType::kMessage || !take(ps[j], payload)) return false;
                          ++j;
                          return bytes < max_bytes;
                        });
    if (j == i) {
      // Not readable where the position says (or larger than the span).
      std::uint32_t index = 0;
      const bool found = journal_->read_at(store::SegmentId(seg), ps[i].offset,
                                           [&](RecordType type, std::span<const char> payload) {
                                             if (index++ != ps[i].index) return false;
                                             return type == RecordType::kMessage && take(ps[i], payload);
                                           });
      if (!found && release_unreadable) {
        spdlog::error("cannot read a paged message of {} back from journal segment {} (offset {}, entry {}): dropped",
                      log_safe(q.name()), seg, ps[i].offset, ps[i].index);
        journal_->release(store::SegmentId(seg));
      }
      j = i + 1;
    }
    i = j;
  }
  return i;
}

void ShardBroker::enqueue_journaled(const std::string& queue_key, MessageRef m,
                                    store::SegmentId segment, std::uint64_t stamp,
                                    std::uint64_t offset, std::uint32_t index) {
  Queue* q = queue_by_journal_key(queue_key);
  // A durable subscription deleted meanwhile: its kUnsubscription record
  // follows this message's, so recovery drops it too.
  if (q == nullptr) {
    journal_->release(segment);
    return;
  }
  // Past the memory limit only the record's position stays in memory; and
  // once a queue has paged messages, later ones join them (enqueue order).
  // A queue bounded by x-max-length-bytes stays in memory (its bound is
  // its own, and paged messages' sizes are not known without reading them).
  if ((q->paging() || over_limit()) && !q->arguments().max_length_bytes) {
    q->enqueue_paged(PagedPosition{segment.value, offset, index, 0});
    return;
  }
  apply_arguments(*q, m);  // a dead letter or a moved message entering a queue with a TTL
  q->enqueue(std::move(m), segment.value, 0, stamp);
}

void ShardBroker::publish_internal(const Destination& d, MessageRef m) {
  if (d.kind == DestinationKind::kQueue) {
    Queue& q = queue_for(d);
    apply_arguments(q, m);
    q.enqueue(std::move(m));
  } else {
    accept(d, std::move(m), begin(std::nullopt), false);
  }
}

void ShardBroker::publish_nondurable(const Destination& topic, MessageRef m) {
  topic_for(topic).publish(std::move(m), [](Outcome) {});
}

std::optional<std::string> ShardBroker::reserve_atomic(const Destination& d, const std::vector<std::uint64_t>& sizes) {
  auto it = queues_.find(key_of(d));
  if (it == queues_.end()) {
    Queue* q = create_queue(d);
    if (q == nullptr) return queue_limit_text(d);
    // The COMMIT's own journal write follows: its persistent messages bring
    // the queue back anyway; this record keeps it when they are all gone.
    record_creation(*q, nullptr);
    it = queues_.find(key_of(d));
  }
  Queue& q = *it->second;
  const QueueArguments& a = q.arguments();
  if (!a.bounded() || a.overflow_mode() == Overflow::kDropHead) return std::nullopt;  // dropped from the head instead
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (q.over_limit(sizes[i], q.admitting(), q.admitting_bytes())) {
      for (std::size_t j = 0; j < i; ++j) q.note_admitting(sizes[j], false);
      return full_queue_text(q);
    }
    q.note_admitting(sizes[i], true);
  }
  return std::nullopt;
}

void ShardBroker::release_atomic(const Destination& d, const std::vector<std::uint64_t>& sizes) {
  auto it = queues_.find(key_of(d));
  if (it == queues_.end()) return;  // deleted meanwhile: nothing counted any more
  for (std::uint64_t size : sizes) it->second->note_admitting(size, false);
}

std::vector<std::string> ShardBroker::durable_keys(const Destination& topic) const {
  std::vector<std::string> keys;
  auto it = topics_.find(key_of(topic));
  if (it != topics_.end()) it->second->for_each_durable_key([&](const std::string& k) { keys.push_back(k); });
  return keys;
}

// ------------------------------------------------------------ subscriptions

void ShardBroker::subscribe(const Destination& d, const ConsumerKey& key, AckMode mode,
                            Window window, std::optional<DurableSubscription> durable,
                            OpTicket ticket, bool may_create, ConsumerOptions options) {
  if (d.kind == DestinationKind::kStream)
    return streams_->subscribe(d, key, mode, window, options.stream_offset, options.stream_group,
                                options.stream_arguments, ticket, may_create, options.stream_partition);
  if (subscriptions_.contains(key)) {
    reply(ticket, Outcome::failure("subscription already exists"));
    return;
  }
  if (durable && options.selector != nullptr) {
    // The subscription outlives its consumer and is fed while nobody is
    // attached, so its selector would have to be journaled with it (and a
    // consumer reattaching with another selector handled): not done yet.
    reply(ticket, Outcome::failure("a durable subscription cannot have a selector (not supported yet): "
                                   "subscribe without selector, or without durable"));
    return;
  }
  if (!may_create) {
    // A queue, a topic or a durable subscription that does not exist yet
    // would be created here.
    const bool exists = d.kind == DestinationKind::kQueue ? queues_.contains(key_of(d))
                        : durable ? durable_topics_.contains(durable->key())
                                  : topics_.contains(key_of(d));
    if (!exists) {
      reply(ticket, Outcome::not_created(d.to_string()));
      return;
    }
  }
  OpRef op = begin(ticket);
  Subscription s;
  if (d.kind == DestinationKind::kQueue && options.arguments) {
    // A declaration (queue arguments on the SUBSCRIBE): its own answer.
    bool created = false;
    s.queue = declare_for_client(d, *options.arguments, may_create, op->outcome, created);
    if (s.queue == nullptr) {
      end(op);
      return;
    }
    answer_declaration(*s.queue, created, ticket);
  } else if (d.kind == DestinationKind::kQueue) {
    const bool existed = queues_.contains(key_of(d));
    s.queue = create_queue(d);
    if (s.queue == nullptr) {
      op->outcome = Outcome::failure(queue_limit_text(d));
      end(op);
      return;
    }
    if (!existed) record_creation(*s.queue, op);
  } else if (durable) {
    s.topic = &topic_for(d);
    s.durable_key = durable->key();
    Queue* q = s.topic->durable(s.durable_key);
    if (q == nullptr) {
      q = &s.topic->add_durable(s.durable_key, durable_settings(s.durable_key));
      Durable& entry = durable_topics_[s.durable_key];
      entry.topic = s.topic;
      entry.owner = durable->owner;
      entry.incarnation = ++next_incarnation_;
      if (journal_ != nullptr)
        entry.record = write(RecordType::kSubscription, encode_subscription(*durable), op, 1);
      spdlog::info("durable subscription {} on /topic/{} created by user '{}'", log_safe(durable->name),
                   log_safe(d.name), log_safe(durable->owner));
    } else {
      auto found = durable_topics_.find(s.durable_key);
      FERRY_ASSERT(found != durable_topics_.end());  // a topic's durable queue has its entry
      Durable& entry = found->second;
      if (Outcome refused = may_attach(entry, *q, *durable); !refused.ok) {
        op->outcome = std::move(refused);
        end(op);
        return;
      }
      if (entry.owner.empty() && !durable->owner.empty()) {
        // Written before subscriptions had owners: the first user to attach
        // claims it (docs/journal.md, "Subscription records").
        entry.owner = durable->owner;
        spdlog::info("durable subscription {} on /topic/{} (recorded without an owner) claimed by user '{}'",
                     log_safe(durable->name), log_safe(d.name), log_safe(durable->owner));
        rewrite_subscription_record(s.durable_key, std::nullopt);
      }
    }
    if (q->consumer_count() == 0) durable_topics_[s.durable_key].exclusive = !durable->shared;
    s.queue = q;
  }
  // A wildcard subscription is confirmed once every shard routes the topics
  // it matches to it (a SEND after the RECEIPT reaches it, whichever shard
  // the producer is on).
  if (d.kind == DestinationKind::kTopic && !durable && TopicPatterns::is_pattern(d.name)) {
    ++op->waiting;
    broker_.add_topic_pattern(self_, d, [this, op] { end(op); });
  }
  // The answer is queued before the first delivery, so a client sees its
  // RECEIPT before any MESSAGE of the subscription (PHP's extension needs it).
  end(op);
  if (d.kind == DestinationKind::kQueue || durable) {
    subscriptions_.emplace(key, s);
    s.queue->add_consumer(key, mode, window, std::move(options));
  } else {
    s.topic = &topic_for(d);
    // Exclusive means nothing for a subscription's own queue (one consumer).
    s.queue = &s.topic->subscribe(key, mode, window, std::move(options.selector), options.no_local);
    topic_of_[s.queue] = s.topic;
    subscriptions_.emplace(key, s);
  }
}

Outcome ShardBroker::may_attach(const Durable& entry, const Queue& q, const DurableSubscription& request) const {
  // A durable subscription's messages are its owner's: another user may not
  // read them by naming it (the same client-id and name, or the same id).
  if (!entry.owner.empty() && request.owner != entry.owner) {
    return Outcome::failure("access refused: durable subscription '" + request.name + "' on /topic/" +
                            request.topic + " belongs to another user");
  }
  // Shared only when every consumer asked to share (docs/behaviour.md,
  // "Durable topic subscriptions"): ActiveMQ's client-id dialect stays exclusive.
  if (q.consumer_count() > 0 && (entry.exclusive || !request.shared)) {
    return Outcome::failure("durable subscription '" + request.name + "' is already in use" +
                            (entry.exclusive ? "" : " (shared: subscribe with shared:true to share it)"));
  }
  return Outcome::success();
}

void ShardBroker::rewrite_subscription_record(const std::string& key, std::optional<store::SegmentId> expected) {
  if (journal_ == nullptr) return;
  auto it = durable_topics_.find(key);
  if (it == durable_topics_.end()) return;
  const Durable& entry = it->second;
  DurableSubscription def;
  def.vhost = entry.topic->destination().vhost;
  def.topic = entry.topic->destination().name;
  def.name = key.substr(key.rfind('\n') + 1);
  def.owner = entry.owner;
  const std::uint64_t incarnation = entry.incarnation;
  auto fresh = std::make_shared<store::SegmentId>();
  *fresh = journal_->append_retained(
      RecordType::kSubscription, encode_subscription(def), 1,
      [this, fresh, key, expected, incarnation](const store::AppendResult& r) {
        broker_.post(self_, [this, fresh, key, expected, incarnation, ok = r.ok, error = r.error] {
          if (expected) compacting_subs_.erase(key);
          auto it = durable_topics_.find(key);
          // The old record is released only once the new one is durable; a
          // subscription removed (or removed and created again) meanwhile
          // keeps its own record.
          const bool current = it != durable_topics_.end() && it->second.incarnation == incarnation &&
                               (!expected || it->second.record == *expected);
          if (ok && current) {
            if (it->second.record.value != 0) journal_->release(it->second.record);
            it->second.record = *fresh;
            return;
          }
          journal_->release(*fresh);
          if (!ok && !expected)
            spdlog::warn("the owner of durable subscription {} could not be journaled ({}): it holds until "
                         "a restart, after which the subscription is claimed again",
                         log_safe(key.substr(key.rfind('\n') + 1)), log_safe(error));
        });
      });
}

void ShardBroker::unsubscribe(const ConsumerKey& key, bool remove_durable_too, OpTicket ticket) {
  if (streams_->unsubscribe(key)) return reply(ticket, Outcome::success());
  OpRef op = begin(ticket);
  current_ = op;
  auto it = subscriptions_.find(key);
  if (it != subscriptions_.end()) {
    Subscription s = it->second;
    subscriptions_.erase(it);
    if (!s.durable_key.empty()) {
      s.queue->remove_consumer(key);
      if (remove_durable_too) remove_durable_now(s.durable_key, op, nullptr);
    } else if (s.topic != nullptr) {
      topic_of_.erase(s.queue);
      forget_pattern(s.topic->destination());
      s.topic->unsubscribe(key);
    } else {
      s.queue->remove_consumer(key);
    }
  }
  current_.reset();
  end(op);
}

void ShardBroker::remove_durable(const DurableSubscription& def, OpTicket ticket) {
  OpRef op = begin(ticket);
  remove_durable_now(def.key(), op, &def.owner);
  end(op);
}

void ShardBroker::remove_durable_now(const std::string& key, const OpRef& op, const std::string* requester) {
  auto it = durable_topics_.find(key);
  const std::string name = key.substr(key.rfind('\n') + 1);
  if (it == durable_topics_.end()) {
    op->outcome = Outcome::failure("no durable subscription '" + name + "'");
    return;
  }
  Topic* topic = it->second.topic;
  const store::SegmentId record = it->second.record;
  // Deleting deletes its messages: its owner's decision only. (One without
  // an owner, recorded before owners existed, may be deleted by any user
  // with configure permission, as before.)
  if (requester != nullptr && !it->second.owner.empty() && *requester != it->second.owner) {
    op->outcome = Outcome::failure("access refused: durable subscription '" + name + "' on /topic/" +
                                   topic->destination().name + " belongs to another user");
    return;
  }
  Queue* q = topic->durable(key);
  if (q != nullptr && q->consumer_count() > 0) {
    op->outcome = Outcome::failure("durable subscription '" + name + "' is in use");
    return;
  }
  DurableSubscription def;
  def.vhost = topic->destination().vhost;
  def.topic = topic->destination().name;
  def.name = name;
  durable_topics_.erase(it);
  write(RecordType::kUnsubscription, encode_subscription(def), op);
  if (journal_ != nullptr && record.value != 0) journal_->release(record);
  if (auto gone = topic->remove_durable(key)) {
    OpRef outer = current_;
    current_ = op;
    gone->discard_all();
    current_ = outer;
  }
  spdlog::info("durable subscription {} on /topic/{} removed", log_safe(def.name), log_safe(def.topic));
}

void ShardBroker::settle(const ConsumerKey& key, DeliverySeqs seqs,
                         SettleAction action, OpTicket ticket) {
  if (streams_->settle(key, seqs, action, ticket)) return;  // answered there (a group's commit: once durable)
  OpRef op = begin(ticket);
  auto it = subscriptions_.find(key);
  if (it != subscriptions_.end()) {
    Queue& q = *it->second.queue;
    if (journal_ == nullptr || action == SettleAction::kRequeue || action == SettleAction::kRelease) {
      current_ = op;
      q.settle(key, seqs.span(), action);
      current_.reset();
    } else {
      for (DeliverySeq seq : seqs) settle_durably(q, key, seq, action, op);
    }
  }
  end(op);
}

// An ACK or dead-letter NACK of a journaled delivery takes effect only once
// its record is durable: the queue marks the delivery settling (it stops
// counting toward the window) and this writes the record; the completion
// removes it, or, when the write failed (a full disk), leaves it held as if
// the frame had never arrived and answers the operation with the error. The
// message's segment is released only after that, so a failed ACK can never
// let the segment holding its message be deleted.
void ShardBroker::settle_durably(Queue& q, const ConsumerKey& key, DeliverySeq seq,
                                 SettleAction action, const OpRef& op) {
  const QueueEntry* e = q.begin_settle(key, seq);
  if (e == nullptr) return;
  const MessageId id = e->message->id;
  bool discard = action == SettleAction::kDeadLetter && q.discards_dead_letters();
  // A dead letter that no queue takes by the move's record (it goes to a
  // topic only, or nowhere) is not moved by one record: the ack is written,
  // then it is published. Held by a pointer, null for every plain ACK: the
  // completions below must stay within their inline storage (no allocation
  // per ACK; test_bench's steady-state allocation test).
  std::shared_ptr<DeadLetterMove> unjournaled;
  std::shared_ptr<DeadLetterMove> move;
  if (action == SettleAction::kDeadLetter && !discard && e->segment != 0) {
    move = std::make_shared<DeadLetterMove>(dead_letter_move(q, *e, "rejected"));
    if (move->queues.empty()) {
      discard = true;
      if (!move->published.empty()) unjournaled = std::move(move);
      move.reset();
    }
  }
  if (e->segment == 0) {
    // Not journaled here: nothing to write for its ACK; a dead-lettered copy
    // is journaled on its own (dead_letter()) as before.
    if (action == SettleAction::kAck || discard) {
      q.finish_settle(key, seq, id, action, true);
    } else {
      QueueEntry copy = *e;
      q.finish_settle(key, seq, id, action, true);
      dead_letter(q, copy, "rejected");
    }
    return;
  }
  ++op->waiting;
  auto queue_key = q.journal_key_ref();
  if (action == SettleAction::kAck || discard) {
    encode_message_ref(scratch_, *queue_key, id);
    journal_->append(RecordType::kAck, scratch_,
                     [this, op, queue_key, key, seq, id, action, unjournaled](const store::AppendResult& r) mutable {
                       broker_.post(self_, [this, op = std::move(op), queue_key = std::move(queue_key),
                                            key, seq, id, action, ok = r.ok, unjournaled = std::move(unjournaled),
                                            error = r.ok ? std::string() : r.error]() mutable {
                         finish_settle(*queue_key, key, seq, id, action, ok, error, op);
                         if (ok && unjournaled) publish_after_move(*unjournaled);
                       });
                     });
    return;
  }
  // A dead-letter move: one atomic record (ack here + the copy in every
  // queue the dead-letter exchange routes it to), so after a crash it is
  // in the source queue or in all of them, never both.
  std::vector<std::pair<RecordType, std::string>> records;
  records.emplace_back(RecordType::kAck, encode_message_ref(*queue_key, id));
  auto keys = std::make_shared<std::vector<std::pair<std::string, std::uint64_t>>>();
  for (const Destination& d : move->queues) {
    keys->emplace_back(d.journal_key(), next_stamp());
    records.emplace_back(RecordType::kMessage, encode_message_record(keys->back().first, *move->copy, 0,
                                                                     keys->back().second));
  }
  write_batch(
      std::move(records),
      [this, op, queue_key, key, seq, id, action, move, keys](std::optional<store::SegmentId> segment,
                                                              std::uint64_t offset, const std::string& error) {
        finish_settle(*queue_key, key, seq, id, action, segment.has_value(), error, op);
        if (!segment) return;
        for (std::size_t i = 0; i < move->queues.size(); ++i)
          broker_.enqueue_journaled(move->queues[i], (*keys)[i].first, move->copy, *segment, (*keys)[i].second,
                                    offset, static_cast<std::uint32_t>(i + 1));
        publish_after_move(*move);
      },
      static_cast<std::uint32_t>(move->queues.size()));
}

void ShardBroker::finish_settle(const std::string& queue_key, const ConsumerKey& key, DeliverySeq seq,
                                MessageId id, SettleAction action, bool ok, const std::string& error,
                                const OpRef& op) {
  if (Queue* q = find_journaled_queue(queue_key)) q->finish_settle(key, seq, id, action, ok);
  if (!ok && op->outcome.ok) {
    op->outcome = Outcome::failure(error);
    spdlog::warn("{} of message {} not made durable, so not applied: {}",
                 action == SettleAction::kAck ? "ACK" : "dead-letter move", id.value, error);
  }
  end(op);
}

Queue* ShardBroker::find_journaled_queue(const std::string& key) {
  if (key.starts_with("q:")) {
    key_scratch_.assign(key, 2);
    auto it = queues_.find(key_scratch_);
    return it == queues_.end() ? nullptr : it->second.get();
  }
  auto it = durable_topics_.find(key);
  return it == durable_topics_.end() ? nullptr : it->second.topic->durable(key);
}

void ShardBroker::settled(const Queue& q, const QueueEntry& e) {
  if (e.segment != 0 && journal_ != nullptr) journal_->release(store::SegmentId(e.segment));
}

void ShardBroker::credit(const ConsumerKey& key, std::uint32_t messages, std::uint64_t bytes) {
  if (streams_->credit(key, messages, bytes)) return;
  auto it = subscriptions_.find(key);
  if (it != subscriptions_.end()) it->second.queue->credit(key, messages, bytes);
}

void ShardBroker::deliver(const ConsumerKey& consumer, Delivery d) {
  broker_.to_client(consumer.shard, [consumer, d = std::move(d)](ClientEvents& ev) mutable {
    ev.deliver(consumer.connection, consumer.subscription, std::move(d));
  });
}

// ------------------------------------------------------------ journal hooks

void ShardBroker::removed(const Queue& q, const QueueEntry& e) { record_removal(q, e); }

// A message leaves its queue with no consumer's ACK to answer (ack:auto,
// expiry, overflow, a move): its ack record is written and its segment
// released at once, releasing being what frees space on a full disk. A
// record the journal refuses (disk full) is kept and written again by the
// next ticks until it is on disk; without it the message would come back
// after a restart, a duplicate of one already consumed. If its segment is
// deleted meanwhile, the record is moot and harmless.
void ShardBroker::record_removal(const Queue& q, const QueueEntry& e) {
  if (e.segment == 0 || journal_ == nullptr) return;
  encode_message_ref(scratch_, q.settings().journal_key, e.message->id);
  journal_->append(RecordType::kAck, scratch_,
                   [this, key = q.journal_key_ref(), id = e.message->id](const store::AppendResult& r) mutable {
                     if (r.ok) return;
                     broker_.post(self_, [this, key = std::move(key), id, error = r.error] {
                       unrecorded(key, id, error);
                     });
                   });
  journal_->release(store::SegmentId(e.segment));
}

void ShardBroker::unrecorded(std::shared_ptr<const std::string> queue_key, MessageId id,
                             const std::string& error) {
  if (unrecorded_removals_.size() >= kMaxUnrecordedRemovals) {
    // Bounded: past it a restart may bring such a message back once
    // (a duplicate, never a loss); said once per shard.
    if (!unrecorded_overflow_logged_)
      spdlog::error("journal: more than {} removals wait for disk space; further ones may reappear "
                    "after a restart",
                    kMaxUnrecordedRemovals);
    unrecorded_overflow_logged_ = true;
    return;
  }
  if (unrecorded_removals_.empty())
    spdlog::warn("journal: a removal record could not be written ({}); retried until it is", error);
  unrecorded_removals_.emplace_back(std::move(queue_key), id);
}

void ShardBroker::retry_unrecorded_removals() {
  if (unrecorded_removals_.empty() || retrying_removals_ || journal_ == nullptr) return;
  auto batch = std::make_shared<std::vector<std::pair<std::shared_ptr<const std::string>, MessageId>>>(
      std::move(unrecorded_removals_));
  unrecorded_removals_.clear();
  std::vector<std::pair<RecordType, std::string>> records;
  records.reserve(batch->size());
  for (const auto& [key, id] : *batch) records.emplace_back(RecordType::kAck, encode_message_ref(*key, id));
  retrying_removals_ = true;
  journal_->append_batch(records, [this, batch](const store::AppendResult& r) {
    broker_.post(self_, [this, batch, ok = r.ok] {
      retrying_removals_ = false;
      if (ok) {
        spdlog::info("journal: {} delayed removal record(s) written", batch->size());
        return;
      }
      // Still no room: back in front of any that failed meanwhile.
      batch->insert(batch->end(), std::make_move_iterator(unrecorded_removals_.begin()),
                    std::make_move_iterator(unrecorded_removals_.end()));
      unrecorded_removals_ = std::move(*batch);
    });
  });
}

void ShardBroker::returned(const Queue& q, const QueueEntry& e) {}

void ShardBroker::deliver_counted(const Queue& q, const QueueEntry& e, const ConsumerKey& consumer,
                                  Delivery d) {
  if (e.segment == 0 || journal_ == nullptr) {
    deliver(consumer, std::move(d));
    return;
  }
  // The delivery count survives a restart (max-deliveries holds across it),
  // and the MESSAGE leaves only once its count is on disk: a message a
  // consumer saw before a crash always comes back marked redelivered, so a
  // duplicate is never unmarked. Group commit shares the sync.
  encode_message_ref(scratch_, q.settings().journal_key, e.message->id, e.deliveries);
  journal_->append(RecordType::kDeliveries, scratch_,
                   [this, consumer, d = std::move(d)](const store::AppendResult&) mutable {
                     // Delivered even if the count could not be written:
                     // availability first; only the marking is weaker then.
                     deliver(consumer, std::move(d));
                   });
}

namespace {

// The exchange and routing key a message was last published with, read
// from its destination as delivered (RabbitMQ's STOMP forms): the
// dead-letter routing key defaults to it, and x-death records it.
std::pair<std::string, std::string> published_as(const Message& m, const Queue& from) {
  std::string_view d = m.destination;
  if (d.starts_with("/exchange/")) {
    d.remove_prefix(10);
    const std::size_t slash = d.find('/');
    if (slash == std::string_view::npos) return {std::string(d), std::string()};
    return {std::string(d.substr(0, slash)), std::string(d.substr(slash + 1))};
  }
  if (d.starts_with("/topic/")) return {"amq.topic", std::string(d.substr(7))};
  if (d.starts_with("/queue/")) return {std::string(), std::string(d.substr(7))};
  if (d.starts_with("/amq/queue/")) return {std::string(), std::string(d.substr(11))};
  return {std::string(), from.destination().name};
}

void replace_header(Message& m, std::string_view name, std::string value) {
  std::erase_if(m.headers, [&](const auto& h) { return h.first == name; });
  m.headers.emplace_back(std::string(name), std::move(value));
}

}  // namespace

ShardBroker::DeadLetterMove ShardBroker::dead_letter_move(const Queue& from, const QueueEntry& e,
                                                          std::string_view reason) {
  DeadLetterMove move;
  move.copy = make_message(*e.message);
  Message* copy = &move.copy.writable();
  // Its own id: it may go back into the queue it leaves (a rejected cycle),
  // whose journal records name messages by id.
  copy->id = broker_.next_message_id(self_);
  const Destination& source = from.destination();
  const QueueArguments& args = from.arguments();
  auto [exchange, routing_key] = published_as(*copy, from);

  // x-death: RabbitMQ's history, one entry per queue and reason.
  std::vector<DeathEntry> deaths;
  if (const std::string* h = copy->header("x-death"))
    if (auto parsed = parse_x_death(*h)) deaths = std::move(*parsed);
  DeathEntry death;
  death.queue = source.name;
  death.reason = std::string(reason);
  death.exchange = exchange;
  death.routing_keys.push_back(routing_key);
  death.time = wall_ms() / 1000;
  record_death(deaths, std::move(death));
  replace_header(*copy, "x-death", format_x_death(deaths));
  // RabbitMQ's summary of the first death (kept through later deaths).
  if (copy->header("x-first-death-queue") == nullptr) {
    copy->headers.emplace_back("x-first-death-queue", source.name);
    copy->headers.emplace_back("x-first-death-reason", std::string(reason));
    copy->headers.emplace_back("x-first-death-exchange", exchange);
  }
  // Ferry's own two, of the last death.
  replace_header(*copy, "original-destination", from.name());
  replace_header(*copy, "dead-letter-reason", std::string(reason));
  // A dead letter does not expire again where it goes (RabbitMQ removes its
  // per-message TTL, `expiration`, which would have expired an expired
  // message at once in its dead-letter queue).
  copy->expires_ms = 0;
  std::erase_if(copy->headers, [](const auto& h) { return h.first == "expiration"; });
  copy->encoded_headers_1_2.clear();  // it named the old destination

  auto to_queue = [&](std::string name) {
    Destination d{DestinationKind::kQueue, std::move(name), source.vhost};
    if (reason != "rejected" && is_dead_letter_cycle(deaths, d.name)) {
      spdlog::debug("message {} not dead-lettered back to {}: a dead-letter cycle", e.message->id_text,
                    log_safe(d.name));
      return;
    }
    (is_temporary_queue(d) ? move.published : move.queues).push_back(std::move(d));
  };
  if (!args.dead_letters()) {
    // No dead-letter exchange: Ferry's own dead-letter queue.
    to_queue(options_.dead_letter_queue.empty() ? options_.dead_letter_prefix + source.name
                                                : options_.dead_letter_queue);
    copy->destination = "/queue/" + (move.queues.empty() ? source.name : move.queues[0].name);
  } else {
    const std::string& dlx = *args.dead_letter_exchange;
    const std::string key = args.dead_letter_routing_key ? *args.dead_letter_routing_key : routing_key;
    if (dlx.empty()) {
      copy->destination = "/queue/" + key;  // the default exchange: the queue named by the key
      to_queue(key);
    } else if (dlx == "amq.topic") {
      // /topic/KEY is amq.topic with routing key KEY: its subscribers and
      // the queues bound to it (published, as a SEND to the topic is).
      copy->destination = "/topic/" + key;
      move.published.push_back(Destination{DestinationKind::kTopic, key, source.vhost});
    } else {
      copy->destination = "/exchange/" + dlx;
      if (!key.empty()) copy->destination.append("/").append(key);
      std::vector<std::string_view> routed;
      if (Status r = broker_.route_exchange(self_, source.vhost, dlx, key, SendHeaders(copy->headers), routed); !r) {
        // RabbitMQ drops a dead letter whose exchange is missing.
        spdlog::warn("message {} from {} dropped: dead-letter exchange: {}", e.message->id_text,
                     log_safe(from.name()), log_safe(r.error().message));
      }
      std::vector<std::string> names(routed.begin(), routed.end());  // views: copy before anything else runs
      for (std::string& n : names) to_queue(std::move(n));
    }
  }
  spdlog::debug("message {} from {} dead-lettered to {} ({}): {} queue(s)", e.message->id_text,
                log_safe(from.name()), log_safe(copy->destination), log_safe(reason),
                move.queues.size() + move.published.size());
  return move;
}

void ShardBroker::publish_after_move(const DeadLetterMove& move) {
  for (const Destination& d : move.published) broker_.publish_internal(d, move.copy);
}

void ShardBroker::dead_letter(const Queue& from, const QueueEntry& e, std::string_view reason) {
  auto move = std::make_shared<DeadLetterMove>(dead_letter_move(from, e, reason));
  if (move->queues.empty()) {
    // A topic (its durable subscriptions journal their copies as any topic
    // message), or nowhere (dropped: unroutable, or a cycle RabbitMQ
    // breaks): the source's ack record goes first.
    record_removal(from, e);
    publish_after_move(*move);
    return;
  }
  if (journal_ == nullptr || !move->copy->persistent) {
    for (const Destination& d : move->queues) broker_.publish_internal(d, move->copy);
    publish_after_move(*move);
    return;
  }
  // One atomic record moves it: after a crash it is in the source queue or
  // in every target, never both.
  std::vector<std::pair<RecordType, std::string>> records;
  if (e.segment != 0)
    records.emplace_back(RecordType::kAck, encode_message_ref(from.settings().journal_key, e.message->id));
  const auto first = static_cast<std::uint32_t>(records.size());
  auto keys = std::make_shared<std::vector<std::pair<std::string, std::uint64_t>>>();
  for (const Destination& d : move->queues) {
    keys->emplace_back(d.journal_key(), next_stamp());
    records.emplace_back(RecordType::kMessage, encode_message_record(keys->back().first, *move->copy, 0,
                                                                     keys->back().second));
  }
  const store::SegmentId source(e.segment);
  // No client waits for this move (max-deliveries, an expired redelivery):
  // if it cannot be written it still happens in memory, and the source
  // record keeps its segment, so after a restart the message is back in its
  // original queue, never lost. Its segment is released only once the move
  // is durable.
  write_batch(
      std::move(records),
      [this, move, keys, first, source](std::optional<store::SegmentId> segment, std::uint64_t offset,
                                        const std::string&) {
        if (segment) {
          for (std::size_t i = 0; i < move->queues.size(); ++i)
            broker_.enqueue_journaled(move->queues[i], (*keys)[i].first, move->copy, *segment, (*keys)[i].second,
                                      offset, first + static_cast<std::uint32_t>(i));
          if (source.value != 0) journal_->release(source);
        } else {
          spdlog::error("journal write failed; a dead-letter move is kept in memory only");
          for (const Destination& d : move->queues) broker_.publish_internal(d, move->copy);
        }
        publish_after_move(*move);
      },
      static_cast<std::uint32_t>(move->queues.size()));
}

// ------------------------------------------------------------ memory

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
  while (!parked_.empty() && memory_used_ + overhead_bytes() < low) {
    Parked p = std::move(parked_.front());
    parked_.pop_front();
    OpRef op = p.op ? std::move(p.op) : begin(p.ticket);
    accept(p.destination, std::move(p.message), std::move(op), p.routed);
  }
  resuming_ = false;
}

void ShardBroker::space_freed(Queue& q) {
  auto it = topic_of_.find(&q);
  if (it != topic_of_.end()) it->second->resume();
}

// ------------------------------------------------------------ housekeeping

void ShardBroker::tick(std::int64_t now_ms) {
  streams_->tick(now_ms);
  retry_unrecorded_removals();
  // A new budget for queue creations (see defer_creation); not while some
  // wait, or a new SEND could create their queue before them.
  if (deferred_.empty()) creations_left_ = kCreationsPerTurn;
  if (++ticks_ % 10 == 0) {
    compact();
    sample_rates(now_ms);
  }
  sweep_queues(now_ms);
  for (auto& [q, t] : topic_of_) {
    q->expire(now_ms);
    q->trim();
  }
  for (auto& [key, t] : durable_topics_) {
    if (Queue* q = t.topic->durable(key)) {
      q->expire(now_ms);
      q->trim();
    }
  }
  for (auto it = topics_.begin(); it != topics_.end();) {
    if (it->second->idle()) it = topics_.erase(it);
    else ++it;
  }
}

// The queues' housekeeping, in slices (fairness, issue 18 item 10): a tick
// visits at most kQueuesPerTick queues, from where the last one stopped, so
// a shard holding 100,000 queues does not spend one long turn on them every
// 100 ms while its clients wait. Each visit does every per-queue duty:
// scheduled messages that came due join the waiting ones and expired ones
// leave (Queue::expire), an unused queue past its x-expires goes, empty
// ready-list buckets are freed, and in a sweep that began at least 10 ticks
// after the last such one, the rates are sampled (RateWindow divides by the
// time between samples, so a longer sweep only widens the interval). Up to
// kQueuesPerTick queues a sweep is one tick, as before; beyond, each queue
// is visited once per sweep of ceil(n / kQueuesPerTick) ticks (100,000
// queues: every 2.5 s). An expired message is never delivered whenever its
// sweep comes (dispatch checks), but a scheduled one waits for it.
//
// The cursor is the next queue's key, not an iterator: queues come and go
// between ticks (erase_queue moves the cursor past the one it removes). A
// rehash of queues_ while it grows reorders it: that sweep may then miss
// some queues, which the next sweep visits.
void ShardBroker::sweep_queues(std::int64_t now_ms) {
  auto it = sweep_next_ ? queues_.find(*sweep_next_) : queues_.end();
  if (it == queues_.end()) {
    it = queues_.begin();
    sweep_rates_ = ticks_ - rates_swept_tick_ >= 10;
    if (sweep_rates_) rates_swept_tick_ = ticks_;
  }
  const std::int64_t wall = sweep_rates_ ? wall_ms() : 0;
  std::size_t visited = 0;
  while (it != queues_.end() && visited < kQueuesPerTick) {
    ++visited;
    Queue& q = *it->second;
    q.expire(now_ms);
    // x-expires: unused (no consumer, no declaration) for that long.
    if (const auto& ttl = q.arguments().expires;
        ttl && q.consumer_count() == 0 && now_ms - q.last_used_ms() >= static_cast<std::int64_t>(*ttl)) {
      auto gone = it++;
      sweep_next_.reset();  // not moved by erase_queue: `it` is the cursor here
      expire_queue(gone);
      continue;
    }
    // Otherwise a queue stays, empty or not, until it is deleted (API, CLI)
    // or its x-expires runs out, as a RabbitMQ or ActiveMQ queue does: its
    // counters and metric series stay with it. max-queues bounds how many
    // there are; an idle queue costs well under 1 KB (queue.h).
    if (sweep_rates_) q.sample_rates(now_ms, wall);
    q.trim();
    ++it;
  }
  swept_last_tick_ = visited;
  if (it == queues_.end()) sweep_next_.reset();
  else sweep_next_ = it->first;
}

// x-expires: the deletion is recorded before the queue goes, as a DELETE's
// is (queues.log, then declared-queues.json for a declared queue), and the
// queue goes once both are durable and it is still unused. A record that
// cannot be written (a full disk) changes nothing: the queue stays, what
// was recorded is put back, and the next try is another x-expires later.
void ShardBroker::expire_queue(std::unordered_map<std::string, std::unique_ptr<Queue>>::iterator it) {
  Queue& q = *it->second;
  if (!expiring_.insert(it->first).second) return;  // its records are being written
  const Destination d = q.destination();
  const std::int64_t used = q.last_used_ms();
  record_deletion(d, [this, d, used](const Status& logged) {
    if (!logged) return keep_expiring_queue(d, logged, false, std::nullopt);
    if (!broker_.remembers_declarations()) return finish_expiry(d, used, std::nullopt);
    broker_.forget_declaration(d, [this, d, used](const Status& forgotten, std::optional<QueueArguments> was) {
      broker_.post(self_, [this, d, used, forgotten, was = std::move(was)] {
        if (!forgotten) return keep_expiring_queue(d, forgotten, true, std::nullopt);
        finish_expiry(d, used, was);
      });
    });
  });
}

void ShardBroker::finish_expiry(const Destination& d, std::int64_t used, std::optional<QueueArguments> declared) {
  auto it = queues_.find(key_of(d));
  if (it == queues_.end()) {
    expiring_.erase(key_of(d));
    return;  // deleted meanwhile
  }
  Queue& q = *it->second;
  if (q.consumer_count() > 0 || q.last_used_ms() != used) {
    // Used while the records were written: it stays, recorded again.
    return keep_expiring_queue(d, Status{}, true, std::move(declared));
  }
  expiring_.erase(it->first);
  spdlog::info("queue {} deleted (vhost {}): unused for its x-expires ({} ms)", log_safe(q.name()),
               log_safe(d.vhost), *q.arguments().expires);
  // Its bindings go with it, as delete_queue's do (an MQTT persistent
  // session's subscriptions are bindings of its queue: docs/mqtt.md).
  unbind_queue(d);
  // No consumer: every message is waiting; each gets its ack record.
  q.discard_all();
  erase_queue(it);
}

void ShardBroker::keep_expiring_queue(const Destination& d, const Status& failed, bool deletion_logged,
                                      std::optional<QueueArguments> declared) {
  expiring_.erase(key_of(d));
  auto it = queues_.find(key_of(d));
  if (it == queues_.end()) return;
  Queue& q = *it->second;
  if (!failed) {
    if (static LogRate rate("x-expires deletions not recorded"); rate.allow())
      spdlog::error("queue {} not expired: its deletion could not be recorded ({}); tried again after another "
                    "x-expires period",
                    log_safe(d.to_string()), log_safe(failed.error().text()));
    q.touch(now_ms());
  }
  // What was recorded is put back: the queue is there after a restart.
  if (deletion_logged) record_creation(q, nullptr);
  if (declared) broker_.remember_declaration(d, std::move(declared), [d](const Status& back) {
    if (!back)
      spdlog::error("queue {} stays, but is no longer in declared-queues.json: {}", log_safe(d.to_string()),
                    log_safe(back.error().text()));
  });
}

void ShardBroker::unbind_queue(const Destination& d) {
  const RoutingTable* t = broker_.exchanges(self_).find(d.vhost);
  if (t == nullptr || !t->has_queue(d.name)) return;
  ExchangeChange c;
  c.kind = ExchangeChange::Kind::kRemoveQueue;
  c.vhost = d.vhost;
  c.destination = BindingDestination::queue(d.name);
  broker_.change_exchanges(self_, std::move(c), {});
}

std::uint64_t ShardBroker::next_stamp() {
  // Microseconds of wall clock, forced increasing: a restart continues above
  // what it recovered (see restore_queue), so queue order survives restarts.
  next_stamp_ = std::max(next_stamp_ + 1, static_cast<std::uint64_t>(wall_ms()) * 1000);
  return next_stamp_;
}

void ShardBroker::compact() {
  if (journal_ == nullptr) return;
  const store::SegmentId oldest = journal_->oldest_segment();
  const store::SegmentId tail = journal_->tail_segment();
  if (tail.value < oldest.value + kCompactionGap) return;
  // A few long-lived records pin the oldest segment (and, since segments go
  // oldest first, every one after it): write them again at the tail, then
  // let the old copies go. Messages held by consumers are left alone; they
  // are acknowledged or returned soon.
  // Only stragglers are moved: if this shard holds much of the oldest
  // segment (a backlog, not stragglers), rewriting it would just churn.
  std::uint64_t live_bytes = 0;
  auto count = [&](Queue& q) {
    q.for_each_waiting([&](QueueEntry& e) {
      if (e.segment == oldest.value) live_bytes += e.message->body.size() + 256;
    });
    // Paged sizes are not known without reading them: an estimate.
    live_bytes += q.paged_in(oldest.value) * kPagedRecordEstimate;
  };
  for (auto& [name, q] : queues_) count(*q);
  for (auto& [key, d] : durable_topics_)
    if (Queue* q = d.topic->durable(key)) count(*q);
  if (live_bytes > journal_->segment_size() / 4) return;
  std::size_t budget = kCompactionBatch;
  // Paged stragglers are read back into memory first (those at the front
  // of a paged tail; at most a quarter segment per pass), so that they are
  // moved like any waiting message and their position is the new one.
  std::uint64_t page_budget = journal_->segment_size() / 4;
  auto page_in_stragglers = [&](Queue& q) {
    if (page_budget == 0 || q.paged_in(oldest.value) == 0) return;
    const std::size_t n = q.page_in_front(oldest.value, page_budget);
    page_budget -= std::min<std::uint64_t>(page_budget, n * kPagedRecordEstimate);
  };
  for (auto& [name, q] : queues_) page_in_stragglers(*q);
  for (auto& [key, d] : durable_topics_)
    if (Queue* q = d.topic->durable(key)) page_in_stragglers(*q);
  auto move_entries = [&](Queue& q) {
    q.for_each_waiting([&](QueueEntry& e) {
      if (budget == 0 || e.segment != oldest.value || compacting_.contains(e.message->id.value))
        return;
      --budget;
      compacting_.insert(e.message->id.value);
      const std::string key = q.settings().journal_key;
      const MessageRef m = e.message;
      auto segment = std::make_shared<store::SegmentId>();
      *segment = journal_->append_retained(
          RecordType::kMessage, encode_message_record(key, *m, e.deliveries, e.stamp), 1,
          [this, segment, key, m, oldest](const store::AppendResult& r) {
            broker_.post(self_, [this, segment, key, m, oldest, r] {
              compacting_.erase(m->id.value);
              Queue* q = queue_by_journal_key(key);
              QueueEntry* e = q == nullptr ? nullptr : q->find_entry(m->id);
              if (r.ok && e != nullptr && e->segment == oldest.value) {
                e->segment = segment->value;
                journal_->release(oldest);
              } else {
                journal_->release(*segment);  // gone meanwhile, or not written
              }
            });
          });
    });
  };
  for (auto& [name, q] : queues_) move_entries(*q);
  for (auto& [key, d] : durable_topics_) {
    if (Queue* q = d.topic->durable(key)) move_entries(*q);
    if (d.record == oldest && budget > 0 && !compacting_subs_.contains(key)) {
      --budget;
      compacting_subs_.insert(key);
      rewrite_subscription_record(key, oldest);
    }
  }
}

void ShardBroker::restore_subscription(const DurableSubscription& s, store::SegmentId record_segment) {
  Destination d;
  d.kind = DestinationKind::kTopic;
  d.vhost = s.vhost;
  d.name = s.topic;
  Topic& topic = topic_for(d);
  topic.add_durable(s.key(), durable_settings(s.key()));  // takes over the record's retain
  Durable& entry = durable_topics_[s.key()];
  entry.topic = &topic;
  entry.record = record_segment;
  entry.owner = s.owner;
  entry.incarnation = ++next_incarnation_;
}

void ShardBroker::restore_queue(const std::string& queue_key, std::vector<Recovery::Entry> entries) {
  Queue* q = queue_by_journal_key(queue_key);
  if (q == nullptr) {
    spdlog::warn("recovery: {} messages of unknown queue '{}' ignored", entries.size(), log_safe(queue_key));
    for (auto& e : entries) journal_->release(e.segment);
    return;
  }
  // From the first paged entry on, everything joins the paged tail (enqueue
  // order); the entry takes over its retain either way.
  bool paging = q->paging();
  for (auto& e : entries) {
    next_stamp_ = std::max(next_stamp_, e.stamp);
    if (e.message == nullptr) paging = true;
    if (paging) {
      q->enqueue_paged(PagedPosition{e.segment.value, e.offset, e.index, e.deliveries});
      continue;
    }
    q->enqueue(std::move(e.message), e.segment.value, e.deliveries, e.stamp);
  }
}

}  // namespace ferry::broker
