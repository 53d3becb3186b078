#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ferry::bench {

// Latency samples in nanoseconds, kept in log-linear buckets: values below
// 256 exactly, larger ones with 128 sub-buckets per power of two, so a
// reported percentile is at most 1/128 (0.8%) above the true sample and
// never below it. Fixed size (about 60 KiB), no allocation while recording;
// one per consumer thread, merged at the end. Not thread-safe.
class LatencyHistogram {
 public:
  void record(std::int64_t ns);  // negative values count as 0
  void merge(const LatencyHistogram& other);

  std::uint64_t count() const { return count_; }
  std::int64_t max() const { return max_; }
  std::int64_t min() const { return count_ ? min_ : 0; }

  // Nearest-rank percentile, q in (0, 1]: the smallest recorded value v such
  // that at least ceil(q * count) samples are <= v, reported as the upper
  // edge of v's bucket (capped at max()). 0 when empty.
  std::int64_t percentile(double q) const;

  static constexpr int kSubBits = 7;
  static constexpr std::size_t kBuckets = (64 - kSubBits) << kSubBits;

 private:
  static std::size_t bucket_of(std::uint64_t v);
  static std::uint64_t upper_edge(std::size_t bucket);

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::int64_t max_ = 0;
  std::int64_t min_ = 0;
};

}  // namespace ferry::bench
