#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "broker/message.h"

namespace ferry::broker {

// Journal payloads of the broker's records (docs/journal.md, "Broker
// records"). The store frames and checksums them; these are the contents.

// kMessage: a message in a queue (`queue` is the queue's journal key).
// `stamp` orders messages within their queue across restarts and compaction
// (assigned by the queue's shard, increasing).
std::string encode_message_record(std::string_view queue, const Message& m,
                                  std::uint32_t deliveries, std::uint64_t stamp);
// The same into `out` (replacing its contents, reusing its buffer).
void encode_message_record(std::string& out, std::string_view queue, const Message& m,
                           std::uint32_t deliveries, std::uint64_t stamp);
struct MessageRecord {
  std::string queue;
  Message message;
  std::uint32_t deliveries = 0;
  std::uint64_t stamp = 0;
};
std::optional<MessageRecord> decode_message_record(std::string_view payload);

// kAck / kDeliveries: a message of a queue left it / was delivered again.
std::string encode_message_ref(std::string_view queue, MessageId id, std::uint32_t deliveries = 0);
void encode_message_ref(std::string& out, std::string_view queue, MessageId id, std::uint32_t deliveries = 0);
struct MessageRefRecord {
  std::string queue;
  MessageId id;
  std::uint32_t deliveries = 0;
};
std::optional<MessageRefRecord> decode_message_ref(std::string_view payload);

}  // namespace ferry::broker
