#include "bench/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace ferry::bench {
namespace {

// Nearest rank over the sorted samples: what percentile() approximates.
std::int64_t reference(std::vector<std::int64_t> sorted, double q) {
  std::sort(sorted.begin(), sorted.end());
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  if (rank == 0) rank = 1;
  return sorted[rank - 1];
}

// The reported value is never below the true one and at most 1/128 above.
void expect_close(const LatencyHistogram& h, const std::vector<std::int64_t>& samples, double q) {
  const std::int64_t want = reference(samples, q);
  const std::int64_t got = h.percentile(q);
  EXPECT_GE(got, want) << "q=" << q;
  EXPECT_LE(static_cast<double>(got), static_cast<double>(want) * (1.0 + 1.0 / 128) + 1) << "q=" << q;
}

TEST(LatencyHistogram, EmptyReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(0.5), 0);
  EXPECT_EQ(h.max(), 0);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  std::vector<std::int64_t> samples;
  for (std::int64_t v = 0; v < 256; ++v) {
    h.record(v);
    samples.push_back(v);
  }
  for (double q : {0.01, 0.25, 0.5, 0.9, 0.99, 1.0}) EXPECT_EQ(h.percentile(q), reference(samples, q));
}

TEST(LatencyHistogram, SingleSampleIsEveryPercentile) {
  LatencyHistogram h;
  h.record(123456789);
  EXPECT_EQ(h.percentile(0.5), 123456789);  // capped at max, which is exact
  EXPECT_EQ(h.percentile(0.999), 123456789);
  EXPECT_EQ(h.max(), 123456789);
  EXPECT_EQ(h.min(), 123456789);
}

TEST(LatencyHistogram, PercentilesMatchSortedReference) {
  std::mt19937_64 rng(42);
  // Log-normal-ish latencies from 1 us to seconds, like a loaded broker.
  std::lognormal_distribution<double> dist(std::log(200'000.0), 1.5);
  LatencyHistogram h;
  std::vector<std::int64_t> samples;
  for (int i = 0; i < 200'000; ++i) {
    const auto v = static_cast<std::int64_t>(dist(rng));
    h.record(v);
    samples.push_back(v);
  }
  EXPECT_EQ(h.count(), samples.size());
  for (double q : {0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0}) expect_close(h, samples, q);
  EXPECT_EQ(h.max(), *std::max_element(samples.begin(), samples.end()));
  EXPECT_EQ(h.percentile(1.0), h.max());
}

TEST(LatencyHistogram, PercentilesAreOrdered) {
  std::mt19937_64 rng(7);
  std::exponential_distribution<double> dist(1.0 / 50'000);
  LatencyHistogram h;
  for (int i = 0; i < 50'000; ++i) h.record(static_cast<std::int64_t>(dist(rng)));
  EXPECT_LE(h.percentile(0.5), h.percentile(0.99));
  EXPECT_LE(h.percentile(0.99), h.percentile(0.999));
  EXPECT_LE(h.percentile(0.999), h.max());
}

TEST(LatencyHistogram, ExtremesAndNegatives) {
  LatencyHistogram h;
  h.record(-5);  // clock oddities count as 0
  h.record(INT64_MAX);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), INT64_MAX);
  EXPECT_EQ(h.percentile(0.5), 0);
  EXPECT_EQ(h.percentile(1.0), INT64_MAX);
}

TEST(LatencyHistogram, MergeEqualsRecordingEverything) {
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<std::int64_t> dist(0, 10'000'000);
  LatencyHistogram a, b, all;
  std::vector<std::int64_t> samples;
  for (int i = 0; i < 10'000; ++i) {
    const auto v = dist(rng);
    (i % 3 ? a : b).record(v);
    all.record(v);
    samples.push_back(v);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    EXPECT_EQ(a.percentile(q), all.percentile(q));
    expect_close(a, samples, q);
  }
  EXPECT_EQ(a.max(), all.max());
  EXPECT_EQ(a.min(), all.min());
}

}  // namespace
}  // namespace ferry::bench
