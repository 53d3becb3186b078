#include "bench/json_line.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace ferry::bench {
namespace {

TEST(JsonLine, KeysInOrderWithTypes) {
  JsonLine j;
  j.add("s", "x").add("b", true).add("i", -3).add("u", std::uint64_t{7}).add("d", 2.5);
  EXPECT_EQ(j.str(), R"({"s":"x","b":true,"i":-3,"u":7,"d":2.5})");
}

TEST(JsonLine, EscapesStrings) {
  JsonLine j;
  j.add("label", std::string("a\"b\\c\nd\x01"));
  EXPECT_EQ(j.str(), R"({"label":"a\"b\\c\nd\u0001"})");
}

TEST(JsonLine, NestedAndNonFinite) {
  JsonLine inner;
  inner.add("p50", 1.0);
  JsonLine j;
  j.add_raw("latency_us", inner.str()).add("nan", std::nan("")).add("inf", std::numeric_limits<double>::infinity());
  EXPECT_EQ(j.str(), R"({"latency_us":{"p50":1},"nan":0,"inf":0})");
}

TEST(JsonLine, EmptyObject) { EXPECT_EQ(JsonLine().str(), "{}"); }

}  // namespace
}  // namespace ferry::bench
