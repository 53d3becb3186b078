#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/client_events.h"
#include "broker/consumer_key.h"
#include "broker/delivery.h"
#include "broker/destination.h"
#include "broker/options.h"
#include "broker/queue.h"
#include "broker/topic.h"

namespace ferry::broker {

class Broker;

// The destinations one shard owns (by hash of vhost and name) and the
// memory they hold. Every method runs on that shard; results travel back to
// connections through Broker (as posted tasks).
class ShardBroker final : public QueueHost {
 public:
  ShardBroker(ShardId self, Broker& broker, const BrokerOptions& options);
  ~ShardBroker() override;

  void publish(const Destination& d, MessageRef m, OpTicket ticket);
  // Enqueues without limits or completion (dead letters, internal moves).
  void publish_internal(const Destination& d, MessageRef m);
  void subscribe(const Destination& d, const ConsumerKey& key, AckMode mode, Window window,
                 OpTicket ticket);
  void unsubscribe(const ConsumerKey& key, OpTicket ticket);
  void settle(const ConsumerKey& key, std::vector<DeliverySeq> seqs, SettleAction action,
              OpTicket ticket);
  void credit(const ConsumerKey& key, std::uint32_t messages, std::uint64_t bytes);
  // Periodic housekeeping: expiry, removal of idle destinations.
  void tick(std::int64_t now_ms);

  std::int64_t memory_used() const { return memory_used_; }
  std::size_t queue_count() const { return queues_.size(); }
  std::size_t topic_count() const { return topics_.size(); }

  // QueueHost
  void deliver(const ConsumerKey& consumer, Delivery d) override;
  void dead_letter(const Queue& from, MessageRef m, std::string_view reason) override;
  void memory_changed(std::int64_t delta) override;
  void space_freed(Queue& q) override;
  std::int64_t now_ms() const override;

 private:
  struct Parked {
    Destination destination;
    MessageRef message;
    OpTicket ticket;
  };
  struct Subscription {
    Queue* queue = nullptr;
    Topic* topic = nullptr;  // set for topic subscriptions
  };

  static std::string key_of(const Destination& d) { return d.vhost + '\n' + d.name; }
  Queue& queue_for(const Destination& d);
  Topic& topic_for(const Destination& d);
  void accept(const Destination& d, MessageRef m, OpTicket ticket);
  bool over_limit() const { return memory_used_ >= memory_limit_; }
  void resume_parked();
  void reply(const OpTicket& t, Outcome o);

  ShardId self_;
  Broker& broker_;
  const BrokerOptions& options_;
  std::int64_t memory_limit_;
  std::int64_t memory_used_ = 0;
  std::unordered_map<std::string, std::unique_ptr<Queue>> queues_;
  std::unordered_map<std::string, std::unique_ptr<Topic>> topics_;
  std::unordered_map<Queue*, Topic*> topic_of_;
  std::unordered_map<ConsumerKey, Subscription> subscriptions_;
  std::deque<Parked> parked_;  // publishes waiting for memory (block policy)
  bool resuming_ = false;
};

}  // namespace ferry::broker
