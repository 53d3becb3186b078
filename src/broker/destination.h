#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ferry::broker {

// kStream: an append-only log read from an offset (docs/streams.md).
enum class DestinationKind { kQueue, kTopic, kStream };

// A parsed destination. Accepted forms: `/queue/NAME`, `/topic/NAME`,
// `/stream/NAME`, and RabbitMQ's `/amq/queue/NAME` (an alias of
// `/queue/NAME`).
struct Destination {
  DestinationKind kind = DestinationKind::kQueue;
  std::string name;   // without prefix
  std::string vhost;  // STOMP `host` of the connection

  // Canonical form used in MESSAGE `destination`: "/queue/NAME", "/topic/NAME"
  // or "/stream/NAME".
  std::string to_string() const;
  // The same, written into `out` (reusing its buffer).
  void to_string(std::string& out) const;
  // Names a queue in journal records: "q:<vhost>\n<name>".
  std::string journal_key() const { return "q:" + vhost + '\n' + name; }
  bool operator==(const Destination&) const = default;
};

// Temporary queues (a connection's `/temp-queue/NAME`, RabbitMQ's naming):
// never journaled, never created by a SEND from another connection (a reply
// to one that is gone is dropped), deleted with their connection.
inline constexpr std::string_view kTemporaryQueuePrefix = "amq.gen-";
inline bool is_temporary_queue(const Destination& d) {
  return d.kind == DestinationKind::kQueue && d.name.starts_with(kTemporaryQueuePrefix);
}

// Temporary topics (a connection's `/temp-topic/NAME`, ActiveMQ's): a topic
// with a generated name of the same form, read only by its connection's
// subscriptions (they go with it), never matched by another's wildcard
// subscription or amq.topic binding, never subscribed to durably.
inline bool is_temporary_topic(const Destination& d) {
  return d.kind == DestinationKind::kTopic && d.name.starts_with(kTemporaryQueuePrefix);
}

// The queue named by a journal key made by Destination::journal_key().
std::optional<Destination> destination_from_journal_key(std::string_view key);

// nullopt: not a destination Ferry knows (the caller answers ERROR).
std::optional<Destination> parse_destination(std::string_view text, std::string_view vhost);

}  // namespace ferry::broker
