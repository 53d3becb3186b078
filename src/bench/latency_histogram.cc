#include "bench/latency_histogram.h"

#include <bit>
#include <cmath>

#include "common/assert.h"

namespace ferry::bench {

// Bucket layout: with S = 2^kSubBits, values [0, 2S) map to themselves;
// a value with its highest bit at position m >= kSubBits + 1 keeps its top
// kSubBits + 1 bits (in [S, 2S)) and drops `shift` = m - kSubBits low bits:
// bucket = 2S + (shift - 1) * S + (top - S). Each power of two above 2S thus
// has S buckets of width 2^shift.
std::size_t LatencyHistogram::bucket_of(std::uint64_t v) {
  constexpr std::uint64_t s = 1u << kSubBits;
  if (v < 2 * s) return static_cast<std::size_t>(v);
  const int m = 63 - std::countl_zero(v);
  const int shift = m - kSubBits;
  const std::uint64_t top = v >> shift;
  return static_cast<std::size_t>(2 * s + (shift - 1) * s + (top - s));
}

std::uint64_t LatencyHistogram::upper_edge(std::size_t bucket) {
  constexpr std::uint64_t s = 1u << kSubBits;
  if (bucket < 2 * s) return bucket;
  const std::uint64_t rest = bucket - 2 * s;
  const int shift = static_cast<int>(rest / s) + 1;
  const std::uint64_t top = s + rest % s;
  return ((top + 1) << shift) - 1;
}

void LatencyHistogram::record(std::int64_t ns) {
  if (ns < 0) ns = 0;
  const std::size_t b = bucket_of(static_cast<std::uint64_t>(ns));
  FERRY_ASSERT(b < kBuckets);
  ++counts_[b];
  if (count_ == 0 || ns < min_) min_ = ns;
  if (ns > max_) max_ = ns;
  ++count_;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  if (count_ == 0 || other.min_ < min_) min_ = other.min_;
  if (other.max_ > max_) max_ = other.max_;
  count_ += other.count_;
}

std::int64_t LatencyHistogram::percentile(double q) const {
  if (count_ == 0) return 0;
  if (q > 1) q = 1;
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  if (rank == 0) rank = 1;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const auto edge = static_cast<std::int64_t>(upper_edge(i));
      return edge < max_ ? edge : max_;
    }
  }
  return max_;
}

}  // namespace ferry::bench
