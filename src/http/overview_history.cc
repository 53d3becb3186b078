#include "http/overview_history.h"

#include "http/json.h"

#include <algorithm>
#include <charconv>
#include <string>

namespace ferry::http {

namespace {

// A whole number of seconds from `min` up (nullopt: not one).
std::optional<std::int64_t> seconds(const std::string& text, std::int64_t min) {
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p != text.data() + text.size() || n < min) return std::nullopt;
  return n;
}

std::int64_t floor_to(std::int64_t t, std::int64_t step) {
  const std::int64_t r = t % step;
  return r < 0 ? t - r - step : t - r;
}

}  // namespace

Result<std::optional<SampleRange>> parse_sample_range(const Request& req, std::string_view prefix) {
  const std::string age_name = std::string(prefix) + "_age";
  const std::string incr_name = std::string(prefix) + "_incr";
  const auto age_text = req.param(age_name);
  const auto incr_text = req.param(incr_name);
  if (!age_text && !incr_text) return std::optional<SampleRange>();
  if (!age_text || !incr_text) return failure(age_name + " and " + incr_name + " go together");
  // Seconds, as RabbitMQ takes them; a year is past any sensible request
  // and keeps the milliseconds far from overflowing.
  constexpr std::int64_t kMaxSeconds = 365LL * 24 * 3600;
  const auto age = seconds(*age_text, 0);
  if (!age || *age > kMaxSeconds) return failure(age_name + " must be a whole number of seconds");
  const auto incr = seconds(*incr_text, 1);
  if (!incr || *incr > kMaxSeconds) return failure(incr_name + " must be a whole number of seconds, at least 1");
  SampleRange r;
  r.age_ms = std::min(*age * 1000, OverviewHistory::kRetentionMs);
  r.incr_ms = *incr * 1000;
  return std::optional<SampleRange>(r);
}

void OverviewHistory::record(OverviewSample s) {
  s.timestamp_ms = floor_to(s.timestamp_ms, kIntervalMs);
  if (size_ > 0) {
    const OverviewSample& newest = at(size_ - 1);
    if (s.timestamp_ms == newest.timestamp_ms) {
      ring_[(head_ + kCapacity - 1) % kCapacity] = s;
      return;
    }
    if (s.timestamp_ms < newest.timestamp_ms) size_ = 0;
  }
  ring_[head_] = s;
  head_ = (head_ + 1) % kCapacity;
  size_ = std::min(size_ + 1, kCapacity);
}

std::vector<OverviewSample> OverviewHistory::range(std::int64_t now_ms, SampleRange r) const {
  std::vector<OverviewSample> out;
  if (size_ == 0 || r.incr_ms <= 0) return out;
  const std::int64_t last =
      std::min(floor_to(now_ms, r.incr_ms), floor_to(at(size_ - 1).timestamp_ms, r.incr_ms));
  const std::int64_t oldest = at(0).timestamp_ms;
  // Walk both backwards: moments newest first, samples from the newest.
  std::size_t i = size_;  // at(i - 1) is the newest sample not yet ruled out
  for (std::int64_t t = last; t >= last - r.age_ms && t >= oldest; t -= r.incr_ms) {
    while (i > 0 && at(i - 1).timestamp_ms > t) --i;
    if (i == 0) break;
    OverviewSample s = at(i - 1);
    s.timestamp_ms = t;
    out.push_back(s);
  }
  return out;
}

std::optional<std::pair<OverviewSample, OverviewSample>> OverviewHistory::newest_two() const {
  if (size_ < 2) return std::nullopt;
  return std::make_pair(at(size_ - 1), at(size_ - 2));
}

// RabbitMQ's `samples`, `avg` and `avg_rate` of one figure over `samples`
// (newest first), added to its _details object.
void add_samples(Json& details, const std::vector<OverviewSample>& samples, SampleField field) {
  Json list = Json::array();
  double sum = 0;
  for (const OverviewSample& s : samples) {
    list.push_back({{"timestamp", s.timestamp_ms}, {"sample", s.*field}});
    sum += static_cast<double>(s.*field);
  }
  details["samples"] = std::move(list);
  details["avg"] = samples.empty() ? 0.0 : sum / static_cast<double>(samples.size());
  double avg_rate = 0;
  if (samples.size() >= 2) {
    const OverviewSample& newest = samples.front();
    const OverviewSample& oldest = samples.back();
    avg_rate = (static_cast<double>(newest.*field) - static_cast<double>(oldest.*field)) * 1000.0 /
               static_cast<double>(newest.timestamp_ms - oldest.timestamp_ms);
  }
  details["avg_rate"] = round_rate(avg_rate);
}

}  // namespace ferry::http
