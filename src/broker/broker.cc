#include "broker/broker.h"

#include "broker/shard_broker.h"

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/declared_exchanges.h"
#include "broker/declared_queues.h"
#include "broker/message_codec.h"
#include "broker/recovery.h"
#include "common/assert.h"
#include "common/clock.h"

// jemalloc's control interface, when the binary is linked with jemalloc
// (weak: null in builds without it, such as the sanitizer build).
extern "C" int mallctl(const char* name, void* oldp, std::size_t* oldlenp, void* newp,
                       std::size_t newlen) __attribute__((weak));

namespace ferry::broker {

namespace {
void return_free_memory() {
  // "arena.<MALLCTL_ARENAS_ALL>.purge": every arena's unused dirty pages.
  if (mallctl != nullptr) (void)mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
}
}  // namespace

Broker::Broker(const BrokerOptions& options, Executor& executor, store::Journal* journal)
    : options_(options),
      queue_counts_(options.max_queues),
      executor_(executor),
      journal_(journal),
      stream_counts_(options.streams.max_streams),
      stream_committer_(options.streams.directory.empty() ? nullptr : std::make_unique<stream::StreamCommitter>()) {
  FERRY_ASSERT(options_.shards == executor.shard_count());
  for (std::uint32_t i = 0; i < options_.shards; ++i)
    shards_.push_back(std::make_unique<ShardBroker>(ShardId(i), *this, options_, journal_));
  client_events_.assign(options_.shards, nullptr);
  for (std::uint32_t i = 0; i < options_.shards; ++i) patterns_.push_back(std::make_unique<TopicPatterns>());
  matched_.resize(options_.shards);
  for (std::uint32_t i = 0; i < options_.shards; ++i)
    exchanges_.push_back(std::make_unique<ExchangeReplica>(options_.max_exchanges, options_.max_bindings));
  routed_.resize(options_.shards);
  id_counters_.resize(options_.shards);
  // Ids start at the clock (microseconds) so that they do not repeat across
  // restarts, even for messages whose records are long deleted.
  for (auto& c : id_counters_) c.value = static_cast<std::uint64_t>(wall_ms()) * 1000;
}

Broker::~Broker() = default;

void Broker::set_client_events(ShardId shard, ClientEvents* events) {
  client_events_[shard.value] = events;
}

ShardId Broker::owner_of(const Destination& d) const {
  std::size_t h = std::hash<std::string>{}(d.vhost);
  h = h * 31 + std::hash<std::string>{}(d.name);
  h = h * 31 + static_cast<std::size_t>(d.kind);
  return ShardId(static_cast<std::uint32_t>(h % shards_.size()));
}

MessageId Broker::next_message_id(ShardId shard) {
  // Shard number in the top byte keeps ids unique without coordination.
  return MessageId((std::uint64_t{shard.value} << 56) | ++id_counters_[shard.value].value);
}

std::uint32_t Broker::publish(const Destination& d, MessageRef m, OpTicket ticket, bool may_create) {
  return publish(std::make_shared<const Destination>(d), std::move(m), ticket, may_create);
}

std::uint32_t Broker::publish(std::shared_ptr<const Destination> d, MessageRef m, OpTicket ticket, bool may_create) {
  std::uint32_t answers = 1;
  if (d->kind == DestinationKind::kTopic) {
    if (TopicPatterns::is_pattern(d->name)) {
      refuse(ticket, fmt::format("{} is a wildcard destination: subscribe to it; SEND names one topic", d->to_string()));
      return 1;
    }
    // A temporary topic is its connection's alone: no wildcard subscription
    // and no amq.topic binding of another reaches it (destination.h).
    const bool temporary = is_temporary_topic(*d);
    std::vector<std::shared_ptr<const Destination>>& matched = matched_[ticket.shard.value];
    if (!temporary && !patterns_[ticket.shard.value]->empty()) {
      matched.clear();
      match_patterns(ticket.shard, *d, matched);
      for (std::shared_ptr<const Destination>& w : matched) {
        const ShardId owner = owner_of(*w);
        executor_.post(owner, [this, owner, w = std::move(w), m, ticket]() mutable {
          shards_[owner.value]->publish(*w, std::move(m), ticket, true, /*routed=*/true);
        });
        ++answers;
      }
      matched.clear();
    }
    // RabbitMQ's /topic/ is amq.topic: queues bound to it get the message too.
    if (!temporary && exchanges_[ticket.shard.value]->has_bindings(d->vhost, "amq.topic")) {
      std::vector<std::string_view>& queues = routed_[ticket.shard.value];
      if (route_exchange(ticket.shard, d->vhost, "amq.topic", d->name, SendHeaders(m->headers), queues)) {
        for (std::string_view q : queues) {
          Destination qd{DestinationKind::kQueue, std::string(q), d->vhost};
          const ShardId owner = owner_of(qd);
          executor_.post(owner, [this, owner, qd = std::move(qd), m, ticket]() mutable {
            shards_[owner.value]->publish(qd, std::move(m), ticket, true);
          });
          ++answers;
        }
      }
      queues.clear();
    }
  }
  ShardId owner = owner_of(*d);
  auto task = [this, owner, d = std::move(d), m = std::move(m), ticket, may_create]() mutable {
    shards_[owner.value]->publish(*d, std::move(m), ticket, may_create);
  };
  static_assert(Task::fits_inline<decltype(task)>(), "a SEND must not allocate on its way");
  executor_.post(owner, std::move(task));
  return answers;
}

void Broker::publish_declaring(std::shared_ptr<const Destination> d, MessageRef m, OpTicket ticket,
                               bool may_create, std::shared_ptr<const QueueArguments> args) {
  // Queues only (the session reads arguments on /queue/ and /amq/queue/).
  const ShardId owner = owner_of(*d);
  executor_.post(owner, [this, owner, d = std::move(d), m = std::move(m), ticket, may_create,
                         args = std::move(args)]() mutable {
    shards_[owner.value]->publish_declaring(*d, std::move(m), ticket, may_create, *args);
  });
}

void Broker::set_policy_store(PolicyStore* store) {
  policy_store_ = store;
  if (store == nullptr) return;
  // Before the shards run: set directly, not by tasks.
  auto snapshot = store->snapshot();
  for (auto& shard : shards_) shard->set_policies(snapshot);
}

void Broker::publish_policies(std::function<void()> done) {
  if (policy_store_ == nullptr) {
    if (done) done();
    return;
  }
  auto snapshot = policy_store_->snapshot();
  auto left = std::make_shared<std::uint32_t>(shard_count());
  auto finish = std::make_shared<std::function<void()>>(std::move(done));
  for (std::uint32_t i = 0; i < shard_count(); ++i) {
    post(ShardId(i), [this, i, snapshot, left, finish] {
      shards_[i]->set_policies(snapshot);
      post(ShardId(0), [left, finish] {
        if (--*left == 0 && *finish) (*finish)();
      });
    });
  }
}

void Broker::remember_declaration(const Destination& d, std::optional<QueueArguments> args,
                                  std::function<void(const Status&)> done) {
  executor_.post(ShardId(0), [this, change = DeclaredQueues::Change{d.vhost, d.name, std::move(args)},
                              done = std::move(done)]() mutable {
    pending_declarations_.push_back({std::move(change), std::move(done)});
    if (declarations_posted_) return;
    declarations_posted_ = true;
    // Written in a later turn, with whatever else arrived meanwhile.
    executor_.post(ShardId(0), [this] {
      declarations_posted_ = false;
      auto batch = std::move(pending_declarations_);
      pending_declarations_.clear();
      std::vector<DeclaredQueues::Change> changes;
      for (const auto& p : batch) changes.push_back(p.change);
      const Status written = declared_queues_->apply(changes);
      for (auto& p : batch) p.done(written);
    });
  });
}

void Broker::forget_declaration(const Destination& d,
                                std::function<void(const Status&, std::optional<QueueArguments> was)> done) {
  executor_.post(ShardId(0), [this, d, done = std::move(done)]() mutable {
    const DeclaredQueues::Entry e{d.vhost, d.name};
    if (declared_queues_ == nullptr || declared_queues_->entries().count(e) == 0) return done(Status{}, std::nullopt);
    QueueArguments was = declared_queues_->arguments_of(e);
    remember_declaration(d, std::nullopt, [done = std::move(done), was = std::move(was)](const Status& st) {
      done(st, was);
    });
  });
}

void Broker::match_patterns(ShardId shard, const Destination& d, std::vector<std::shared_ptr<const Destination>>& out) {
  patterns_[shard.value]->match(d, out);
}

void Broker::refuse(OpTicket ticket, std::string error) {
  to_client(ticket.shard, [ticket, error = std::move(error)](ClientEvents& ev) {
    ev.complete(ticket.connection, ticket.op, Outcome::failure(error));
  });
}

void Broker::add_topic_pattern(ShardId home, const Destination& topic, std::function<void()> done) {
  // Counted on `home`, where the answers come back.
  auto left = std::make_shared<std::uint32_t>(shard_count());
  for (std::uint32_t i = 0; i < shard_count(); ++i) {
    executor_.post(ShardId(i), [this, i, home, topic, left, done] {
      patterns_[i]->add(topic);
      executor_.post(home, [left, done] {
        if (--*left == 0) done();
      });
    });
  }
}

void Broker::remove_topic_pattern(const Destination& topic) {
  for (std::uint32_t i = 0; i < shard_count(); ++i)
    executor_.post(ShardId(i), [this, i, topic] { patterns_[i]->remove(topic); });
}

Status Broker::route_exchange(ShardId shard, const std::string& vhost, std::string_view exchange,
                              std::string_view routing_key, const HeaderLookup& headers,
                              std::vector<std::string_view>& queues) {
  // A vhost's table is made on first use on each replica: holding only the
  // predeclared exchanges, it is the same on every shard.
  return exchanges_[shard.value]->table(vhost).route(exchange, routing_key, headers, queues);
}

void Broker::change_exchanges(ShardId reply_to, ExchangeChange change, std::function<void(Status)> done) {
  executor_.post(ShardId(0), [this, reply_to, change = std::move(change), done = std::move(done)]() mutable {
    Status s = exchanges_[0]->apply(change);
    auto answer = [this, reply_to](std::function<void(Status)> done, Status s) {
      if (done) executor_.post(reply_to, [done = std::move(done), s = std::move(s)] { done(s); });
    };
    if (!s) return answer(std::move(done), std::move(s));
    // A subscription's temporary queue is never kept: no write for it.
    const bool temporary = change.destination.kind == BindingDestination::Kind::kQueue &&
                           change.destination.name.starts_with(kTemporaryQueuePrefix);
    if (exchange_store_ != nullptr && !temporary) {
      if (Status saved = exchange_store_->save(DeclaredExchanges::durable_part(*exchanges_[0])); !saved) {
        spdlog::error("exchanges: {}", saved.error().text());
        s = failure("done, but not written to " + exchange_store_->path() + " (it is not kept across a restart): " +
                    saved.error().text());
      }
    }
    const std::uint32_t others = shard_count() - 1;
    if (others == 0) return answer(std::move(done), std::move(s));
    auto shared = std::make_shared<const ExchangeChange>(std::move(change));
    auto left = std::make_shared<std::uint32_t>(others);
    auto finish = std::make_shared<std::function<void()>>(
        [answer, done = std::move(done), s = std::move(s)]() mutable { answer(std::move(done), std::move(s)); });
    for (std::uint32_t i = 1; i < shard_count(); ++i) {
      executor_.post(ShardId(i), [this, i, shared, left, finish] {
        // Shard 0 accepted it; the same change in the same order succeeds here.
        Status applied = exchanges_[i]->apply(*shared);
        FERRY_ASSERT(applied.ok());
        executor_.post(ShardId(0), [left, finish] {
          if (--*left == 0) (*finish)();
        });
      });
    }
  });
}

Result<std::string> Broker::restore_exchanges(DeclaredExchanges* store) {
  exchange_store_ = store;
  if (store == nullptr) return std::string("exchanges are not kept (no data directory)");
  auto state = store->load();
  if (!state) return state.error();
  std::size_t exchanges = 0, bindings = 0;
  for (const auto& x : state->exchanges) {
    ExchangeChange c;
    c.kind = ExchangeChange::Kind::kDeclare;
    c.vhost = x.vhost;
    c.exchange = x.name;
    c.properties = x.properties;
    // Restored whatever the limits are now (they bound new declarations).
    Status first = exchanges_[0]->apply(c);
    if (!first) {
      spdlog::warn("exchange '{}' in vhost '{}' from {} not restored: {}", x.name, x.vhost, store->path(),
                   first.error().text());
      continue;
    }
    for (std::size_t i = 1; i < exchanges_.size(); ++i) (void)exchanges_[i]->apply(c);
    ++exchanges;
  }
  for (const auto& b : state->bindings) {
    ExchangeChange c;
    c.kind = ExchangeChange::Kind::kBind;
    c.vhost = b.vhost;
    c.exchange = b.source;
    c.destination = b.destination;
    c.key = b.key;
    c.arguments = b.arguments;
    Status first = exchanges_[0]->apply(c);
    if (!first) {
      spdlog::warn("a binding of exchange '{}' in vhost '{}' from {} not restored: {}", b.source, b.vhost,
                   store->path(), first.error().text());
      continue;
    }
    for (std::size_t i = 1; i < exchanges_.size(); ++i) (void)exchanges_[i]->apply(c);
    ++bindings;
  }
  return fmt::format("restored {} durable exchanges and {} bindings from {}", exchanges, bindings, store->path());
}

void Broker::publish_atomic(std::vector<std::pair<Destination, MessageRef>> sends, OpTicket ticket) {
  FERRY_ASSERT(journal_ != nullptr);
  // A topic send is journaled once per durable subscription of the topic,
  // which the topic's owner knows: ask each owner first (the answers come
  // back to this shard), then write everything as one batch.
  auto gather = std::make_shared<AtomicSends>();
  gather->sends = std::move(sends);
  // A topic send also goes to the wildcard topics it matches (as publish()).
  if (!patterns_[ticket.shard.value]->empty()) {
    std::vector<std::shared_ptr<const Destination>> matched;
    const std::size_t n = gather->sends.size();
    for (std::size_t i = 0; i < n; ++i) {
      if (gather->sends[i].first.kind != DestinationKind::kTopic || is_temporary_topic(gather->sends[i].first)) continue;
      matched.clear();
      match_patterns(ticket.shard, gather->sends[i].first, matched);
      for (const auto& w : matched) gather->sends.emplace_back(*w, gather->sends[i].second);
    }
  }
  // And to the queues bound to amq.topic (RabbitMQ's /topic/).
  {
    std::vector<std::string_view> queues;
    const std::size_t n = gather->sends.size();
    for (std::size_t i = 0; i < n; ++i) {
      const Destination& d = gather->sends[i].first;
      if (d.kind != DestinationKind::kTopic || is_temporary_topic(d) ||
          !exchanges_[ticket.shard.value]->has_bindings(d.vhost, "amq.topic"))
        continue;
      const MessageRef m = gather->sends[i].second;
      const std::string vhost = d.vhost, key = d.name;
      if (!route_exchange(ticket.shard, vhost, "amq.topic", key, SendHeaders(m->headers), queues)) continue;
      for (std::string_view q : queues)
        gather->sends.emplace_back(Destination{DestinationKind::kQueue, std::string(q), vhost}, m);
    }
  }
  std::vector<Destination> topics;
  for (const auto& [d, m] : gather->sends) {
    if (d.kind == DestinationKind::kTopic) {
      if (std::find(topics.begin(), topics.end(), d) == topics.end()) topics.push_back(d);
      continue;
    }
    auto q = std::find_if(gather->queues.begin(), gather->queues.end(), [&](const auto& e) { return e.first == d; });
    if (q == gather->queues.end()) q = gather->queues.insert(gather->queues.end(), {d, {}});
    q->second.push_back(m->body.size());
  }
  gather->reserved.assign(gather->queues.size(), false);
  gather->waiting = topics.size() + gather->queues.size();
  if (gather->waiting == 0) {
    write_atomic(gather, ticket);
    return;
  }
  for (const Destination& t : topics) {
    const ShardId owner = owner_of(t);
    executor_.post(owner, [this, owner, t, gather, ticket] {
      std::vector<std::string> keys = shards_[owner.value]->durable_keys(t);
      executor_.post(ticket.shard, [this, t, keys = std::move(keys), gather, ticket]() mutable {
        gather->durables.emplace_back(t, std::move(keys));
        if (--gather->waiting == 0) atomic_answered(gather, ticket);
      });
    });
  }
  // Each queue's owner makes it (within max-queues) and counts the sends
  // against its x-max-length: a COMMIT that would overfill a reject-publish
  // queue is refused whole, as a SEND to it would be.
  for (std::size_t i = 0; i < gather->queues.size(); ++i) {
    const ShardId owner = owner_of(gather->queues[i].first);
    executor_.post(owner, [this, owner, i, gather, ticket] {
      const auto& [d, sizes] = gather->queues[i];
      std::optional<std::string> refused = shards_[owner.value]->reserve_atomic(d, sizes);
      executor_.post(ticket.shard, [this, i, refused = std::move(refused), gather, ticket]() mutable {
        if (refused) {
          if (gather->refused.empty()) gather->refused = std::move(*refused);
        } else {
          gather->reserved[i] = true;
        }
        if (--gather->waiting == 0) atomic_answered(gather, ticket);
      });
    });
  }
}

void Broker::atomic_answered(const std::shared_ptr<AtomicSends>& gather, OpTicket ticket) {
  if (gather->refused.empty()) {
    write_atomic(gather, ticket);
    return;
  }
  for (std::size_t i = 0; i < gather->queues.size(); ++i) {
    if (!gather->reserved[i]) continue;
    const ShardId owner = owner_of(gather->queues[i].first);
    executor_.post(owner, [this, owner, i, gather] {
      shards_[owner.value]->release_atomic(gather->queues[i].first, gather->queues[i].second);
    });
  }
  refuse(ticket, "message refused: " + gather->refused + "; transaction not committed");
}

void Broker::write_atomic(const std::shared_ptr<AtomicSends>& gather, OpTicket ticket) {
  struct Target {
    Destination owner;    // the queue, or the topic owning the durable subscription
    std::string key;      // journal key of the queue
    MessageRef message;
    std::uint64_t stamp;
    std::uint32_t index;  // in the batch
  };
  std::vector<std::pair<store::RecordType, std::string>> records;
  std::vector<Target> targets;
  std::vector<std::pair<Destination, MessageRef>> topic_sends;  // for non-durable subscribers
  // Stamps from the clock: the owners' own stamps are clock-based too, so
  // queue order after a restart stays that of arrival.
  std::uint64_t stamp = static_cast<std::uint64_t>(wall_ms()) * 1000;
  auto add = [&](const Destination& owner, std::string key, const MessageRef& m) {
    ++stamp;
    records.emplace_back(store::RecordType::kMessage, encode_message_record(key, *m, 0, stamp));
    targets.push_back(Target{owner, std::move(key), m, stamp, static_cast<std::uint32_t>(records.size() - 1)});
  };
  for (const auto& [d, m] : gather->sends) {
    if (d.kind == DestinationKind::kQueue) {
      add(d, d.journal_key(), m);
      continue;
    }
    topic_sends.emplace_back(d, m);
    for (const auto& [t, keys] : gather->durables)
      if (t == d)
        for (const std::string& key : keys) add(d, key, m);
  }
  auto segment = std::make_shared<store::SegmentId>();
  auto shared = std::make_shared<std::vector<Target>>(std::move(targets));
  auto topics = std::make_shared<std::vector<std::pair<Destination, MessageRef>>>(std::move(topic_sends));
  *segment = journal_->append_batch_retained(
      records, static_cast<std::uint32_t>(shared->size()),
      [this, segment, shared, topics, gather, ticket](const store::AppendResult& r) {
        // Posted, so that `segment` (set after append returns) is visible.
        executor_.post(ticket.shard, [this, segment, shared, topics, gather, ticket, r] {
          // What the queues' owners counted as on its way in is in now (or
          // not at all): given back first (in order with the enqueues below).
          for (const auto& q : gather->queues) {
            const ShardId owner = owner_of(q.first);
            executor_.post(owner, [this, owner, gather, d = &q.first, sizes = &q.second] {
              shards_[owner.value]->release_atomic(*d, *sizes);
            });
          }
          if (!r.ok) {
            for (std::size_t i = 0; i < shared->size(); ++i) journal_->release(*segment);
            to_client(ticket.shard, [ticket, error = r.error](ClientEvents& ev) {
              ev.complete(ticket.connection, ticket.op,
                          Outcome::failure(error + "; transaction not committed"));
            });
            return;
          }
          for (Target& t : *shared)
            enqueue_journaled(t.owner, std::move(t.key), t.message, *segment, t.stamp, r.offset, t.index);
          for (auto& topic : *topics) {
            // Named copies: clang 14 cannot capture structured bindings.
            Destination d = topic.first;
            MessageRef m = topic.second;
            const ShardId owner = owner_of(d);
            executor_.post(owner, [this, owner, d = std::move(d), m = std::move(m)] {
              shards_[owner.value]->publish_nondurable(d, m);
            });
          }
          if (ClientEvents* ev = client_events_[ticket.shard.value])
            ev->complete(ticket.connection, ticket.op, Outcome::success());
        });
      });
}

void Broker::publish_internal(const Destination& d, MessageRef m) {
  ShardId owner = owner_of(d);
  executor_.post(owner, [this, owner, d, m = std::move(m)]() mutable {
    shards_[owner.value]->publish_internal(d, std::move(m));
  });
}

void Broker::subscribe(const Destination& d, const ConsumerKey& key, AckMode mode, Window window,
                       std::optional<DurableSubscription> durable, OpTicket ticket, bool may_create,
                       ConsumerOptions options) {
  if (d.kind == DestinationKind::kTopic && TopicPatterns::is_pattern(d.name)) {
    if (Status valid = TopicPatterns::check(d.name); !valid) return refuse(ticket, valid.error().text());
    if (durable)
      return refuse(ticket, fmt::format("durable subscriptions to a wildcard destination ({}) are not supported; "
                                        "subscribe durably to each topic, or without durable",
                                        d.to_string()));
  }
  ShardId owner = owner_of(d);
  executor_.post(owner, [this, owner, d, key, mode, window, durable = std::move(durable), ticket, may_create,
                         options = std::move(options)]() mutable {
    shards_[owner.value]->subscribe(d, key, mode, window, durable, ticket, may_create, std::move(options));
  });
}

void Broker::unsubscribe(ShardId owner, const ConsumerKey& key, bool remove_durable, OpTicket ticket) {
  executor_.post(owner, [this, owner, key, remove_durable, ticket] {
    shards_[owner.value]->unsubscribe(key, remove_durable, ticket);
  });
}

void Broker::remove_durable(const DurableSubscription& s, OpTicket ticket) {
  Destination d;
  d.kind = DestinationKind::kTopic;
  d.vhost = s.vhost;
  d.name = s.topic;
  ShardId owner = owner_of(d);
  executor_.post(owner, [this, owner, s, ticket] { shards_[owner.value]->remove_durable(s, ticket); });
}

void Broker::drop_temporary_queue(const Destination& d) {
  const ShardId owner = owner_of(d);
  executor_.post(owner, [this, owner, d] { shards_[owner.value]->drop_temporary_queue(d); });
}

void Broker::enqueue_journaled(const Destination& d, std::string queue_key, MessageRef m,
                               store::SegmentId segment, std::uint64_t stamp, std::uint64_t offset,
                               std::uint32_t index) {
  ShardId owner = owner_of(d);
  executor_.post(owner, [this, owner, queue_key = std::move(queue_key), m = std::move(m), segment,
                         stamp, offset, index]() mutable {
    shards_[owner.value]->enqueue_journaled(queue_key, std::move(m), segment, stamp, offset, index);
  });
}

std::string Broker::recover() {
  if (journal_ == nullptr) return "no journal";
  // Keep at most half the memory limit of bodies; the rest is paged.
  Recovery recovery(*journal_, options_.memory_limit / 2);
  const std::int64_t started = mono_ms();
  std::uint64_t seen = 0;
  // Progress by bytes: the segments passed plus the offset in the current
  // one, against the journal's size when replay starts.
  const std::uint64_t total = journal_->disk_bytes();
  recovery_total_.store(total, std::memory_order_relaxed);
  std::uint64_t passed = 0, segment = 0, last_offset = 0;
  std::int64_t last_report = started;
  store::ReplayStats stats = journal_->replay([&](const store::ReplayedRecord& r) {
    recovery.apply(r);
    if (r.segment.value != segment) {
      passed += last_offset;
      segment = r.segment.value;
    }
    last_offset = r.offset;
    recovery_done_.store(std::min(total, passed + r.offset), std::memory_order_relaxed);
    if (++seen % 4096 == 0 && mono_ms() - last_report >= 1000) {
      last_report = mono_ms();
      spdlog::info("recovery: {}% ({} of {} bytes), {} records replayed, {} messages live so far",
                   total == 0 ? 100 : (passed + r.offset) * 100 / total, passed + r.offset, total, seen,
                   recovery.messages());
    }
  });
  recovery_done_.store(total, std::memory_order_relaxed);
  std::uint64_t subscriptions = 0;
  for (const auto& [key, sub] : recovery.subscriptions()) {
    auto s = decode_subscription(sub.record);
    if (!s) continue;
    Destination d;
    d.kind = DestinationKind::kTopic;
    d.vhost = s->vhost;
    d.name = s->topic;
    shards_[owner_of(d).value]->restore_subscription(*s, sub.segment);
    ++subscriptions;
  }
  std::uint64_t messages = 0, queues = 0;
  for (auto& [key, entries] : recovery.take_queues()) {
    ShardId owner;
    if (auto d = destination_from_journal_key(key)) {
      owner = owner_of(*d);
    } else if (auto it = recovery.subscriptions().find(key); it != recovery.subscriptions().end()) {
      auto s = decode_subscription(it->second.record);
      Destination d;
      d.kind = DestinationKind::kTopic;
      d.vhost = s->vhost;
      d.name = s->topic;
      owner = owner_of(d);
    } else {
      // Messages of a durable subscription whose record is gone: nothing
      // will consume them.
      for (auto& e : entries) journal_->release(e.segment);
      continue;
    }
    messages += entries.size();
    ++queues;
    shards_[owner.value]->restore_queue(key, std::move(entries));
  }
  // Message ids continue above anything recovered (a clock set back must
  // not make them repeat).
  for (auto& c : id_counters_) c.value = std::max(c.value, recovery.max_message_counter());
  // Replay's working set (an entry per live message, ~100 bytes each while
  // it runs) is freed by now; hand its pages back to the system at once
  // rather than when the allocator decays them, so that a broker that
  // recovered a large paged backlog starts at its steady-state size.
  return_free_memory();
  return fmt::format(
      "recovered {} messages in {} queues and {} durable subscriptions from {} records ({} bytes, {} "
      "segments) in {} ms{}{}",
      messages, queues, subscriptions, stats.records, stats.bytes, stats.segments, mono_ms() - started,
      stats.truncated_bytes ? "; " : "", stats.report);
}

std::string Broker::open_streams() {
  const std::string& root = options_.streams.directory;
  if (root.empty()) return "streams off (no data directory)";
  namespace fs = std::filesystem;
  std::error_code ec;
  std::uint64_t opened = 0, failed = 0;
  // <root>/<vhost escaped>/<name escaped>/0 (stream_store.h); anything
  // else under root is not a stream and is left alone.
  for (fs::directory_iterator v(root, ec), end; !ec && v != end; v.increment(ec)) {
    if (!v->is_directory()) continue;
    auto vhost = StreamStore::unescape_name(v->path().filename().string());
    if (!vhost) continue;
    std::error_code ec2;
    for (fs::directory_iterator n(v->path(), ec2); !ec2 && n != end; n.increment(ec2)) {
      if (n->path().filename().string().starts_with(".deleted-")) {
        // A stream whose deletion a crash cut short (StreamStore::remove):
        // renamed away, never a stream again; its files go now.
        std::error_code ec3;
        fs::remove_all(n->path(), ec3);
        spdlog::info("removed {} (a deleted stream's files){}", n->path().string(),
                     ec3 ? ": " + ec3.message() : std::string());
        continue;
      }
      auto name = StreamStore::unescape_name(n->path().filename().string());
      if (!name || !fs::is_directory(n->path() / "0")) continue;
      Destination d{DestinationKind::kStream, *name, *vhost};
      if (Status st = shards_[owner_of(d).value]->streams().open_existing(d); !st) {
        spdlog::error("stream {} (vhost {}) not opened: {}", d.to_string(), d.vhost, st.error().text());
        ++failed;
      } else {
        ++opened;
      }
    }
  }
  return fmt::format("opened {} streams from {}{}", opened, root,
                     failed ? fmt::format(" ({} could not be opened, see above)", failed) : "");
}

void Broker::settle(ShardId owner, const ConsumerKey& key, DeliverySeqs seqs,
                    SettleAction action, OpTicket ticket) {
  auto task = [this, owner, key, seqs = std::move(seqs), action, ticket]() mutable {
    shards_[owner.value]->settle(key, std::move(seqs), action, ticket);
  };
  static_assert(Task::fits_inline<decltype(task)>(), "an ACK must not allocate on its way");
  executor_.post(owner, std::move(task));
}

void Broker::credit(ShardId owner, const ConsumerKey& key, std::uint32_t messages,
                    std::uint64_t bytes) {
  executor_.post(owner, [this, owner, key, messages, bytes] {
    shards_[owner.value]->credit(key, messages, bytes);
  });
}

void Broker::tick(ShardId shard, std::int64_t now_ms) { shards_[shard.value]->tick(now_ms); }

void Broker::apply_replicated(const Destination& d, std::uint64_t offset, stream::StreamEntry e) {
  const ShardId owner = owner_of(d);
  post(owner, [this, owner, d, offset, e = std::move(e)]() mutable {
    local(owner).streams().apply_replicated(d, offset, std::move(e));
  });
}

}  // namespace ferry::broker
