#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "broker/stream_options.h"

namespace ferry::broker {

enum class MemoryPolicy { kBlock, kReject };
enum class SlowSubscriberPolicy { kBlock, kDisconnect };

// What the delivery engine needs to know; filled from ferry.toml and flags
// (see app/config.h, where every field is named as the user types it).
struct BrokerOptions {
  std::uint32_t shards = 1;
  std::uint32_t max_unacked = 10000;       // ceiling on any subscription window
  std::uint32_t default_prefetch = 1000;   // window when SUBSCRIBE names none
  std::uint64_t memory_limit = 1ull << 30; // queued message bytes, all shards
  MemoryPolicy memory_policy = MemoryPolicy::kBlock;
  std::uint32_t max_deliveries = 10;       // 0 = never dead-letter
  // Scheduled messages not due yet, all shards (broker/schedule.h); a SEND
  // that would hold more is refused (0 = no limit).
  std::uint64_t max_scheduled_messages = 100000;
  std::string dead_letter_prefix = "DLQ.";
  // Not empty: every queue of a vhost dead-letters into this one queue
  // (ActiveMQ's shared ActiveMQ.DLQ) instead of <prefix>NAME.
  std::string dead_letter_queue;
  std::uint32_t topic_subscriber_buffer = 10000;
  // Message groups (JMSXGroupID / group) remembered per queue; past it the
  // least recently used group's assignment is forgotten.
  std::uint32_t max_groups_per_queue = 10000;
  // /queue/ destinations per vhost over all shards; a SEND, SUBSCRIBE or
  // management PUT that would create one more is refused (0 = no limit).
  std::uint32_t max_queues = 100000;
  // Exchanges (beyond the predeclared ones) and bindings per vhost
  // (routing_table.h); a declare or bind past them is refused (0 = no limit).
  std::uint32_t max_exchanges = 10000;
  std::uint32_t max_bindings = 100000;
  // Policies per vhost (policy.h): each new queue is matched against its
  // vhost's, so this bounds that cost (0 = no limit).
  std::uint32_t max_policies = 100;
  SlowSubscriberPolicy slow_subscriber_policy = SlowSubscriberPolicy::kBlock;
  // Destinations whose messages are persistent unless the SEND says
  // persistent:false (ActiveMQ wildcards: `*` one segment, `>` the rest).
  std::vector<std::string> persistent_default = {"/queue/>", "/topic/>"};
  // Journal bytes past which persistent SENDs are refused (0 = no limit but
  // the disk's own).
  std::uint64_t disk_limit = 100ull << 30;
  // /stream/ destinations (docs/streams.md "Using streams over STOMP").
  StreamOptions streams;
};

}  // namespace ferry::broker
