#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "http/json.h"
#include "http/request.h"

namespace ferry::http {

// The overview's figures at one moment (docs/management.md, "History").
// message_stats counters are cumulative since the broker started, as
// RabbitMQ's samples are; queue_totals are the lengths at that moment.
struct OverviewSample {
  std::int64_t timestamp_ms = 0;  // wall clock (ms since the Unix epoch)
  std::uint64_t publish = 0;
  std::uint64_t deliver_get = 0;
  std::uint64_t ack = 0;
  std::uint64_t redeliver = 0;
  std::uint64_t messages = 0;  // ready + unacknowledged
  std::uint64_t messages_ready = 0;
  std::uint64_t messages_unacknowledged = 0;
};

// RabbitMQ's ?X_age=SECONDS&X_incr=SECONDS ("msg_rates", "lengths"): the
// samples at now, now - incr, ... back to now - age.
struct SampleRange {
  std::int64_t age_ms = 0;
  std::int64_t incr_ms = 0;
};

// `prefix`_age and `prefix`_incr of the request: nullopt when neither is
// given; an Error (the API answers 400) when only one is, or either is not
// a whole number of seconds (age >= 0, incr >= 1). An age beyond what the
// history keeps is cut to OverviewHistory::kRetentionMs.
Result<std::optional<SampleRange>> parse_sample_range(const Request& req, std::string_view prefix);

// The last kRetentionMs of overview samples, one every kIntervalMs, in a
// ring of fixed size: the memory it takes never grows. Shard 0 only (the
// management API's shard): the sampler records, handlers read.
class OverviewHistory {
 public:
  static constexpr std::int64_t kIntervalMs = 5000;
  static constexpr std::int64_t kRetentionMs = 600000;  // RabbitMQ's default ten minutes
  static constexpr std::size_t kCapacity = kRetentionMs / kIntervalMs + 1;

  // Keeps `s`, its timestamp rounded down to a multiple of kIntervalMs. A
  // sample for the newest one's slot replaces it; one older than the newest
  // (the wall clock was set back) empties the history first, since the
  // samples kept would no longer be in time order.
  void record(OverviewSample s);

  // RabbitMQ's samples for `r`, newest first: for each t = last, last -
  // incr, ... down to last - age, the newest sample taken at or before t,
  // stamped t. `last` is now rounded down to incr, or the newest sample's
  // slot if that is older (a sample is taken just after its slot begins).
  // Moments before the oldest sample kept are left out, so a broker that
  // started a minute ago answers a minute of samples.
  std::vector<OverviewSample> range(std::int64_t now_ms, SampleRange r) const;

  // The newest sample and the one before it, if there are two.
  std::optional<std::pair<OverviewSample, OverviewSample>> newest_two() const;

  std::size_t size() const { return size_; }

 private:
  // i-th sample from the oldest (i < size_).
  const OverviewSample& at(std::size_t i) const { return ring_[(head_ + kCapacity - size_ + i) % kCapacity]; }

  std::array<OverviewSample, kCapacity> ring_{};
  std::size_t head_ = 0;  // where the next sample goes
  std::size_t size_ = 0;
};

// RabbitMQ's `samples`, `avg` and `avg_rate` of one figure over `samples`
// (newest first, as range() gives them), added to its _details object. The
// overview and a queue's page (GET /api/queues/VHOST/NAME) use it alike.
using SampleField = std::uint64_t OverviewSample::*;
void add_samples(Json& details, const std::vector<OverviewSample>& samples, SampleField field);

}  // namespace ferry::http
