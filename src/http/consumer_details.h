#pragma once

#include <vector>

#include "broker/destination.h"
#include "broker/stats.h"
#include "http/json.h"
#include "net/connection_info.h"

namespace ferry::http {

// RabbitMQ's consumer_details of GET /api/queues/VHOST/NAME: one object per
// consumer of `queue` (the queue's shard knows its ack mode, window and
// unacknowledged messages), joined with its connection (peer and local
// address, user) and subscription (the STOMP `id` as consumer_tag) from
// `connections`, the snapshots of the consumers' connections. A consumer
// whose connection is not among them (an MQTT client, one that closed
// meanwhile) keeps what the queue knows and an empty consumer_tag.
Json consumer_details(const broker::Destination& queue, const std::vector<broker::ConsumerStats>& consumers,
                      const std::vector<net::ConnectionInfo>& connections);

}  // namespace ferry::http
