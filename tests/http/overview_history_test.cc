#include "http/overview_history.h"

#include <gtest/gtest.h>

namespace ferry::http {
namespace {

constexpr std::int64_t kStep = OverviewHistory::kIntervalMs;
constexpr std::int64_t kT0 = 1'700'000'000'000;  // a multiple of 5 s

OverviewSample sample(std::int64_t ms, std::uint64_t publish, std::uint64_t ready = 0) {
  OverviewSample s;
  s.timestamp_ms = ms;
  s.publish = publish;
  s.messages_ready = ready;
  return s;
}

Request with(std::map<std::string, std::string> query) {
  Request r;
  r.query = std::move(query);
  return r;
}

TEST(OverviewHistory, RangeIsNewestFirstOnTheIncrementsBoundaries) {
  OverviewHistory h;
  for (int i = 0; i < 5; ++i) h.record(sample(kT0 + i * kStep, 10 * i));
  // now is 2 s past the newest sample's slot
  auto got = h.range(kT0 + 4 * kStep + 2000, SampleRange{20000, 5000});
  ASSERT_EQ(got.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(got[i].timestamp_ms, kT0 + (4 - i) * kStep);
    EXPECT_EQ(got[i].publish, 10u * (4 - i));
  }
}

TEST(OverviewHistory, ACoarserIncrementTakesTheSampleAtOrBeforeEachMoment) {
  OverviewHistory h;
  for (int i = 0; i <= 12; ++i) h.record(sample(kT0 + i * kStep, i));
  // incr 10 s: moments on 10 s boundaries, newest at or before each
  auto got = h.range(kT0 + 12 * kStep, SampleRange{60000, 10000});
  ASSERT_FALSE(got.empty());
  for (std::size_t k = 0; k < got.size(); ++k) {
    EXPECT_EQ(got[k].timestamp_ms % 10000, 0);
    EXPECT_EQ(static_cast<std::int64_t>(got[k].publish), (got[k].timestamp_ms - kT0) / kStep);
    if (k > 0) EXPECT_EQ(got[k - 1].timestamp_ms - got[k].timestamp_ms, 10000);
  }
}

TEST(OverviewHistory, TheNewestMomentIsTheNewestSampleNotAnEmptySlot) {
  OverviewHistory h;
  h.record(sample(kT0, 1));
  h.record(sample(kT0 + kStep, 2));
  // the slot of kT0 + 2 * kStep has begun but was not sampled yet
  auto got = h.range(kT0 + 2 * kStep + 10, SampleRange{10000, 5000});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].timestamp_ms, kT0 + kStep);
  EXPECT_EQ(got[0].publish, 2u);
  EXPECT_EQ(got[1].publish, 1u);
}

TEST(OverviewHistory, MomentsBeforeTheFirstSampleAreLeftOut) {
  OverviewHistory h;
  h.record(sample(kT0, 7));
  auto got = h.range(kT0 + 1000, SampleRange{600000, 5000});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].publish, 7u);
  EXPECT_TRUE(OverviewHistory().range(kT0, SampleRange{60000, 5000}).empty());
}

TEST(OverviewHistory, KeepsAFixedNumberOfSamples) {
  OverviewHistory h;
  const std::size_t n = OverviewHistory::kCapacity;
  for (std::size_t i = 0; i < 3 * n; ++i) h.record(sample(kT0 + static_cast<std::int64_t>(i) * kStep, i));
  EXPECT_EQ(h.size(), n);
  const std::int64_t newest = kT0 + static_cast<std::int64_t>(3 * n - 1) * kStep;
  auto got = h.range(newest, SampleRange{OverviewHistory::kRetentionMs, 5000});
  ASSERT_EQ(got.size(), n);
  EXPECT_EQ(got.front().publish, 3 * n - 1);
  EXPECT_EQ(got.back().publish, 2 * n);  // the oldest kept
  EXPECT_EQ(got.back().timestamp_ms, newest - OverviewHistory::kRetentionMs);
}

TEST(OverviewHistory, ASampleInTheSameSlotReplacesTheNewest) {
  OverviewHistory h;
  h.record(sample(kT0, 1));
  h.record(sample(kT0 + 1200, 5));  // rounded down to kT0
  EXPECT_EQ(h.size(), 1u);
  auto got = h.range(kT0, SampleRange{0, 5000});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].publish, 5u);
  EXPECT_EQ(got[0].timestamp_ms, kT0);
}

TEST(OverviewHistory, AClockSetBackStartsAgain) {
  OverviewHistory h;
  h.record(sample(kT0, 1));
  h.record(sample(kT0 + kStep, 2));
  h.record(sample(kT0 - 10 * kStep, 3));
  EXPECT_EQ(h.size(), 1u);
  auto got = h.range(kT0 - 10 * kStep, SampleRange{60000, 5000});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].publish, 3u);
}

TEST(OverviewHistory, NewestTwo) {
  OverviewHistory h;
  h.record(sample(kT0, 1, 10));
  EXPECT_FALSE(h.newest_two());
  h.record(sample(kT0 + kStep, 2, 4));
  auto two = h.newest_two();
  ASSERT_TRUE(two);
  EXPECT_EQ(two->first.messages_ready, 4u);
  EXPECT_EQ(two->second.messages_ready, 10u);
}

TEST(SampleRange, ParsesRabbitMqParameters) {
  auto none = parse_sample_range(with({}), "msg_rates");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);

  auto r = parse_sample_range(with({{"msg_rates_age", "60"}, {"msg_rates_incr", "5"}}), "msg_rates");
  ASSERT_TRUE(r);
  ASSERT_TRUE(*r);
  EXPECT_EQ((*r)->age_ms, 60000);
  EXPECT_EQ((*r)->incr_ms, 5000);

  // the other family's parameters are not these
  auto other = parse_sample_range(with({{"lengths_age", "60"}, {"lengths_incr", "5"}}), "msg_rates");
  ASSERT_TRUE(other);
  EXPECT_FALSE(*other);

  // past the history's reach: cut to it
  auto far = parse_sample_range(with({{"lengths_age", "86400"}, {"lengths_incr", "60"}}), "lengths");
  ASSERT_TRUE(far);
  EXPECT_EQ((*far)->age_ms, OverviewHistory::kRetentionMs);
}

TEST(SampleRange, RefusesHalfARangeAndBadNumbers) {
  EXPECT_FALSE(parse_sample_range(with({{"msg_rates_age", "60"}}), "msg_rates"));
  EXPECT_FALSE(parse_sample_range(with({{"msg_rates_incr", "5"}}), "msg_rates"));
  EXPECT_FALSE(parse_sample_range(with({{"msg_rates_age", "60"}, {"msg_rates_incr", "0"}}), "msg_rates"));
  EXPECT_FALSE(parse_sample_range(with({{"msg_rates_age", "-1"}, {"msg_rates_incr", "5"}}), "msg_rates"));
  EXPECT_FALSE(parse_sample_range(with({{"msg_rates_age", "6x"}, {"msg_rates_incr", "5"}}), "msg_rates"));
  EXPECT_FALSE(parse_sample_range(with({{"msg_rates_age", "60"}, {"msg_rates_incr", ""}}), "msg_rates"));
  EXPECT_FALSE(
      parse_sample_range(with({{"msg_rates_age", "99999999999999999999"}, {"msg_rates_incr", "5"}}), "msg_rates"));
  auto bad = parse_sample_range(with({{"lengths_age", "60"}}), "lengths");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().text().find("lengths_incr"), std::string::npos);
}

}  // namespace
}  // namespace ferry::http
