#include "broker/broker.h"

#include "broker/shard_broker.h"
#include "common/assert.h"

namespace ferry::broker {

Broker::Broker(const BrokerOptions& options, Executor& executor)
    : options_(options), executor_(executor) {
  FERRY_ASSERT(options_.shards == executor.shard_count());
  for (std::uint32_t i = 0; i < options_.shards; ++i)
    shards_.push_back(std::make_unique<ShardBroker>(ShardId(i), *this, options_));
  client_events_.assign(options_.shards, nullptr);
  id_counters_.resize(options_.shards);
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

void Broker::publish(const Destination& d, MessageRef m, OpTicket ticket) {
  ShardId owner = owner_of(d);
  executor_.post(owner, [this, owner, d, m = std::move(m), ticket]() mutable {
    shards_[owner.value]->publish(d, std::move(m), ticket);
  });
}

void Broker::publish_internal(const Destination& d, MessageRef m) {
  ShardId owner = owner_of(d);
  executor_.post(owner, [this, owner, d, m = std::move(m)]() mutable {
    shards_[owner.value]->publish_internal(d, std::move(m));
  });
}

void Broker::subscribe(const Destination& d, const ConsumerKey& key, AckMode mode, Window window,
                       OpTicket ticket) {
  ShardId owner = owner_of(d);
  executor_.post(owner, [this, owner, d, key, mode, window, ticket] {
    shards_[owner.value]->subscribe(d, key, mode, window, ticket);
  });
}

void Broker::unsubscribe(ShardId owner, const ConsumerKey& key, OpTicket ticket) {
  executor_.post(owner, [this, owner, key, ticket] { shards_[owner.value]->unsubscribe(key, ticket); });
}

void Broker::settle(ShardId owner, const ConsumerKey& key, std::vector<DeliverySeq> seqs,
                    SettleAction action, OpTicket ticket) {
  executor_.post(owner, [this, owner, key, seqs = std::move(seqs), action, ticket]() mutable {
    shards_[owner.value]->settle(key, std::move(seqs), action, ticket);
  });
}

void Broker::credit(ShardId owner, const ConsumerKey& key, std::uint32_t messages,
                    std::uint64_t bytes) {
  executor_.post(owner, [this, owner, key, messages, bytes] {
    shards_[owner.value]->credit(key, messages, bytes);
  });
}

void Broker::tick(ShardId shard, std::int64_t now_ms) { shards_[shard.value]->tick(now_ms); }

}  // namespace ferry::broker
