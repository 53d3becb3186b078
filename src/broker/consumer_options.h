#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "broker/message_selector.h"
#include "broker/queue_arguments.h"
#include "broker/stream_arguments.h"
#include "stream/offset_spec.h"

namespace ferry::broker {

// What a consumer asks of the queue it subscribes to, besides its ack mode
// and window (one struct, so that a new SUBSCRIBE feature does not add one
// more positional parameter to every layer it crosses).
struct ConsumerOptions {
  ConsumerOptions() = default;
  // A selector alone (the common case; callers that know nothing else).
  ConsumerOptions(SelectorRef s) : selector(std::move(s)) {}  // NOLINT(google-explicit-constructor)

  // Gets only the messages it selects (queue.h); null: every message.
  SelectorRef selector;
  // ActiveMQ's exclusive consumer (`activemq.exclusive:true`, or
  // `exclusive:true`): while one is subscribed, only the first exclusive
  // consumer of the queue receives; the others stand by in subscription
  // order. Queues only (a topic subscription has one consumer anyway).
  bool exclusive = false;
  // JMS noLocal (`activemq.noLocal:true`, `no-local:true`): a topic
  // subscription does not get the messages its own connection published.
  // Topics only (on a queue it means nothing, as in ActiveMQ).
  bool no_local = false;
  // RabbitMQ's queue arguments given on the SUBSCRIBE (a declaration of the
  // queue, queue_arguments.h); null: none, the queue is used as it is.
  // Queues only. A SUBSCRIBE with them gets one more answer: the
  // declaration's.
  std::shared_ptr<const QueueArguments> arguments;
  // A stream reader's start (`x-stream-offset`); streams only.
  stream::OffsetSpec stream_offset = stream::OffsetSpec::next();
  // A stream reader's consumer group (`group`); empty: a plain reader.
  std::string stream_group;
  // A plain stream reader of one partition (`partition:N`); nullopt: all.
  std::optional<std::uint32_t> stream_partition;
  // A stream's own arguments (x-max-age, ...) on the SUBSCRIBE: its
  // declaration when it creates the stream, checked against it otherwise.
  StreamArguments stream_arguments;
};

}  // namespace ferry::broker
