#include "bench/sequence_tracker.h"

#include <gtest/gtest.h>

namespace ferry::bench {
namespace {

TEST(SequenceTracker, CountsDistinctAndDuplicatesPerProducer) {
  SequenceTracker t(2);
  EXPECT_EQ(t.record(0, 0), SequenceTracker::Seen::kFirst);
  EXPECT_EQ(t.record(0, 1), SequenceTracker::Seen::kFirst);
  EXPECT_EQ(t.record(1, 0), SequenceTracker::Seen::kFirst);  // same seq, other producer
  EXPECT_EQ(t.record(0, 1), SequenceTracker::Seen::kDuplicate);
  EXPECT_EQ(t.distinct(), 3u);
  EXPECT_EQ(t.duplicates(), 1u);
}

TEST(SequenceTracker, SparseAndLargeSequenceNumbers) {
  SequenceTracker t(1);
  for (std::uint64_t s : {1'000'000ull, 5ull, 64ull, 63ull, 65ull, 1'000'000ull}) t.record(0, s);
  EXPECT_EQ(t.distinct(), 5u);
  EXPECT_EQ(t.duplicates(), 1u);
}

TEST(SequenceTracker, OneMillionInOrder) {
  SequenceTracker t(1);
  for (std::uint64_t s = 0; s < 1'000'000; ++s) t.record(0, s);
  EXPECT_EQ(t.distinct(), 1'000'000u);
  EXPECT_EQ(t.duplicates(), 0u);
}

}  // namespace
}  // namespace ferry::bench
