#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "broker/consumer_key.h"
#include "broker/delivery.h"
#include "broker/destination.h"
#include "broker/queue_arguments.h"
#include "common/strong_id.h"

namespace ferry::broker {

// Message counters, totals since start. A Queue keeps its own and also adds
// to its shard's (ShardBroker::totals()), so shard totals survive the
// queues that come and go. Plain integers: both live on the owning shard.
struct MessageCounters {
  std::uint64_t enqueued = 0;       // entered the queue (published, moved in, recovered)
  std::uint64_t dequeued = 0;       // handed to a consumer
  std::uint64_t acked = 0;          // acknowledged by a client-ack consumer
  std::uint64_t redelivered = 0;    // handed out again after a NACK or a consumer leaving
  std::uint64_t expired = 0;
  std::uint64_t dead_lettered = 0;
};

// One consumer of a queue as the queue sees it (GET /api/queues/VHOST/NAME
// lists them as RabbitMQ's consumer_details; the connection's own facts, its
// address and the subscription's id, come from its shard).
struct ConsumerStats {
  ConsumerKey key;
  AckMode mode = AckMode::kAuto;
  std::uint32_t prefetch = 0;      // its window, in messages
  std::uint64_t window_bytes = 0;  // 0: no byte cap
  std::uint64_t unacked = 0;       // delivered, not yet acknowledged (client modes)
  bool exclusive = false;          // asked to be the queue's exclusive consumer
  bool active = true;              // false: standing by (behind an exclusive or single active consumer)
  bool selector = false;           // gets only the messages its selector picks
};

// One moment of a queue's history (GET /api/queues/VHOST/NAME with
// msg_rates_age or lengths_age): the counters (cumulative since the queue
// was made, as RabbitMQ's samples) and the lengths at `timestamp_ms` (wall
// clock, a multiple of Queue::kHistoryIntervalMs).
struct QueueSample {
  std::int64_t timestamp_ms = 0;
  std::uint64_t publish = 0;      // enqueued
  std::uint64_t deliver_get = 0;  // dequeued
  std::uint64_t ack = 0;
  std::uint64_t redeliver = 0;
  std::uint64_t messages_ready = 0;
  std::uint64_t messages_unacknowledged = 0;
};

// Snapshots for the management API, taken on the owning shard and carried
// to the shard that asked (values only, no pointers into the shard).
struct QueueStats {
  Destination destination;
  bool durable = false;
  std::uint64_t ready = 0;
  std::uint64_t unacked = 0;
  std::uint64_t consumers = 0;
  MessageCounters counters;
  double rate_in = 0;   // enqueued per second (last 5 s)
  double rate_out = 0;  // dequeued per second
  QueueArguments arguments;  // RabbitMQ's x-arguments it was declared with
  std::string policy;                 // the policy it follows (empty: none)
  QueueArguments policy_definition;   // that policy's definition
  QueueArguments effective;           // what applies: arguments under the policy
  // Filled by ShardBroker::queue_stats(destination) only (one queue's page),
  // in subscription order; empty in lists.
  std::vector<ConsumerStats> consumer_list;
  // Filled by queue_stats(destination) only: its history, oldest first (at
  // most Queue::kHistorySamples).
  std::vector<QueueSample> history;
};

struct TopicStats {
  Destination destination;
  std::uint64_t subscribers = 0;
  std::uint64_t durable_subscriptions = 0;
  std::uint64_t published = 0;
  double rate_in = 0;
};

// A durable topic subscription, with or without a consumer attached.
struct DurableStats {
  Destination topic;
  std::string name;
  std::string owner;      // the user it belongs to ("" = nobody: recorded before owners existed)
  bool attached = false;  // a consumer is subscribed to it now
  std::uint64_t ready = 0;
  std::uint64_t unacked = 0;
};

struct ShardStats {
  std::uint64_t published = 0;  // messages accepted for any destination
  MessageCounters totals;       // over every queue of the shard (subscription queues too)
  double rate_publish = 0, rate_deliver = 0, rate_ack = 0, rate_redeliver = 0;
  std::uint64_t ready = 0;      // waiting in queues and subscriptions
  std::uint64_t unacked = 0;
  std::uint64_t consumers = 0;
  std::uint64_t queues = 0;     // /queue/ destinations
  std::uint64_t topics = 0;
  std::int64_t memory_used = 0; // bytes of queued messages
  std::int64_t memory_overhead = 0;  // estimated bytes of the destinations themselves (counted against memory-limit)
};

// One message as a browser sees it (not consumed).
struct BrowsedMessage {
  std::string message_id;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool redelivered = false;
  bool persistent = false;
  std::uint32_t priority = 4;
  std::int64_t timestamp_ms = 0;  // 0 when unknown
};

}  // namespace ferry::broker
