#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// RabbitMQ's `x-death` history of a dead-lettered message, carried as STOMP
// header text (docs/routing.md, "Dead-lettering"). RabbitMQ keeps it as an
// AMQP array of tables, one per (queue, reason), most recent first; STOMP
// headers are text, so each table is written as `key=value` fields joined
// by `;`, and the tables are joined by `,`:
//
//   x-death: queue=work;reason=rejected;count=2;exchange=;routing-keys=work;time=1765130000,queue=...
//
// `routing-keys` are joined by `|`; `time` is seconds since the epoch (as
// RabbitMQ's timestamp). Names are percent-encoded where they hold one of
// `%,;=|` so that any queue or key name reads back exactly.
namespace ferry::broker {

struct DeathEntry {
  std::string queue;
  std::string reason;  // rejected | expired | maxlen | delivery_limit
  std::uint64_t count = 1;
  std::string exchange;  // where the message was published before it died here
  std::vector<std::string> routing_keys;
  std::int64_t time = 0;  // seconds since the epoch of the first such death
  bool operator==(const DeathEntry&) const = default;
};

// nullopt: not text this module wrote (the header is then replaced whole).
std::optional<std::vector<DeathEntry>> parse_x_death(std::string_view text);
std::string format_x_death(const std::vector<DeathEntry>& deaths);

// RabbitMQ's update (rabbit_dead_letter): an entry for the same queue and
// reason has its count raised and moves to the front (its first time,
// exchange and keys kept); otherwise `death` is put in front.
void record_death(std::vector<DeathEntry>& deaths, DeathEntry death);

// RabbitMQ's cycle rule (rabbit_dead_letter:is_cycle), on the history that
// already holds this death: dead-lettering to `queue` is a cycle to break
// (the message is dropped for it) when `queue` appears in the history and
// no death from the front up to and including its entry was a rejection.
// A rejection anywhere in the loop means a consumer chose it: allowed.
bool is_dead_letter_cycle(const std::vector<DeathEntry>& deaths, std::string_view queue);

}  // namespace ferry::broker
