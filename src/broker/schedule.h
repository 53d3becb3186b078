#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/message.h"
#include "common/result.h"

namespace ferry::broker {

// Scheduled delivery (docs/dialects.md, "Scheduled delivery"): a message
// that becomes visible to consumers only when it is due. The headers users
// know: ActiveMQ's AMQ_SCHEDULED_DELAY / AMQ_SCHEDULED_PERIOD /
// AMQ_SCHEDULED_REPEAT, the RabbitMQ delayed-message plugin's x-delay, and
// Ferry's neutral `delay` (ms) and `deliver-at` (ms since the epoch).
//
// The due time is fixed once, when the SEND (or its transaction's COMMIT)
// is handled, and stamped on the message as `deliver-at`: the journal keeps
// it with the message, so a restart or a crash keeps the due time. A
// repeating message is that many messages, each with its own due time
// (delay, delay + period, ...): each is journaled and survives restarts
// like any other message.
inline constexpr std::string_view kDeliverAtHeader = "deliver-at";

struct Schedule {
  std::int64_t delay_ms = 0;       // from when it is handled
  std::int64_t at_ms = 0;          // deliver-at (0: none); the later of the two wins
  std::int64_t period_ms = 0;      // between repetitions
  std::uint32_t repeat = 0;        // repetitions after the first delivery
  std::uint64_t copies() const { return std::uint64_t{repeat} + 1; }
  // When copy `i` (0 = the first) is due, the schedule being applied at `now_ms`.
  std::int64_t due(std::int64_t now_ms, std::uint32_t i) const;
};

// One of the headers above (or AMQ_SCHEDULED_CRON, which is refused).
bool is_scheduling_header(std::string_view name);

// The schedule the headers ask for; nullopt when they ask for none. An
// invalid value, AMQ_SCHEDULED_CRON (not supported) or more repetitions
// than `max_copies` allows is an Error naming the header.
Result<std::optional<Schedule>> schedule_of(std::span<const std::pair<std::string, std::string>> headers,
                                             std::uint64_t max_copies);

// Stamps the due time on `m` (deliver_at_ms and the deliver-at header).
void stamp_due(Message& m, std::int64_t due_ms);

// Applies `s` at `now_ms`: stamps the first due time on `m` (which must be
// writable) and returns its repetitions, copies of `m` each with its own id
// (next_id(); the text is m's id with "-<n>" appended) and due time.
template <typename NextId>
std::vector<MessageRef> apply_schedule(const Schedule& s, Message& m, std::int64_t now_ms, NextId next_id) {
  stamp_due(m, s.due(now_ms, 0));
  std::vector<MessageRef> repeats;
  repeats.reserve(s.repeat);
  for (std::uint32_t i = 1; i <= s.repeat; ++i) {
    MessageRef copy = make_message(m);
    Message& c = copy.writable();
    c.id = next_id();
    c.id_text = m.id_text + "-" + std::to_string(i);
    c.encoded_headers_1_2.clear();
    stamp_due(c, s.due(now_ms, i));
    repeats.push_back(std::move(copy));
  }
  return repeats;
}

// The due time a journaled message's headers carry (0: none or invalid).
std::int64_t deliver_at_of(std::span<const std::pair<std::string, std::string>> headers);

}  // namespace ferry::broker
