#include "session/clients.h"

namespace ferry::session {

class Clients::Shard final : public broker::ClientEvents {
 public:
  void add(ConnectionId id, broker::Client& c) { clients_[id] = &c; }
  void remove(ConnectionId id) { clients_.erase(id); }

  void deliver(ConnectionId c, SubscriptionNo sub, broker::Delivery d) override {
    if (broker::Client* client = find(c)) client->on_delivery(sub, std::move(d));
  }
  void complete(ConnectionId c, std::uint64_t op, broker::Outcome outcome) override {
    if (broker::Client* client = find(c)) client->on_complete(op, std::move(outcome));
  }
  void kick(ConnectionId c, SubscriptionNo sub, std::string reason) override {
    if (broker::Client* client = find(c)) client->on_kick(sub, std::move(reason));
  }

 private:
  broker::Client* find(ConnectionId id) {
    auto it = clients_.find(id);
    return it == clients_.end() ? nullptr : it->second;
  }
  std::unordered_map<ConnectionId, broker::Client*> clients_;
};

Clients::Clients(broker::Broker& broker) : broker_(broker) {
  for (std::uint32_t i = 0; i < broker.shard_count(); ++i) {
    shards_.push_back(std::make_unique<Shard>());
    broker_.set_client_events(ShardId(i), shards_.back().get());
  }
}

Clients::~Clients() {
  for (std::uint32_t i = 0; i < shards_.size(); ++i) broker_.set_client_events(ShardId(i), nullptr);
}

void Clients::add(ShardId shard, ConnectionId id, broker::Client& client) { shards_[shard.value]->add(id, client); }

void Clients::remove(ShardId shard, ConnectionId id) { shards_[shard.value]->remove(id); }

}  // namespace ferry::session
