#include "broker/x_death.h"

#include <gtest/gtest.h>

namespace ferry::broker {
namespace {

DeathEntry death(std::string queue, std::string reason) {
  DeathEntry d;
  d.queue = std::move(queue);
  d.reason = std::move(reason);
  d.exchange = "ex";
  d.routing_keys = {"k"};
  d.time = 1765130000;
  return d;
}

TEST(XDeath, FormatsRabbitMqFieldsAndReadsThemBack) {
  std::vector<DeathEntry> deaths{death("work", "rejected"), death("a,b;c=d|e%f", "expired")};
  deaths[1].routing_keys = {"x|y", ""};
  deaths[1].exchange = "";
  const std::string text = format_x_death(deaths);
  EXPECT_EQ(text.substr(0, text.find(',')),
            "queue=work;reason=rejected;count=1;exchange=ex;routing-keys=k;time=1765130000");
  auto back = parse_x_death(text);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, deaths);
}

TEST(XDeath, TextItDidNotWriteIsNotRead) {
  EXPECT_FALSE(parse_x_death("something else").has_value());
  EXPECT_FALSE(parse_x_death("queue=a;count=1").has_value()) << "no reason";
  EXPECT_FALSE(parse_x_death("queue=a%2;reason=expired").has_value()) << "a cut escape";
  EXPECT_FALSE(parse_x_death("queue=a;reason=expired;count=x").has_value());
  EXPECT_TRUE(parse_x_death("")->empty());
}

TEST(XDeath, ASecondDeathInTheSameQueueForTheSameReasonCountsAndMovesToTheFront) {
  std::vector<DeathEntry> deaths;
  record_death(deaths, death("a", "rejected"));
  record_death(deaths, death("b", "expired"));
  DeathEntry again = death("a", "rejected");
  again.time = 1;  // the first death's time is kept
  record_death(deaths, again);
  ASSERT_EQ(deaths.size(), 2u);
  EXPECT_EQ(deaths[0].queue, "a");
  EXPECT_EQ(deaths[0].count, 2u);
  EXPECT_EQ(deaths[0].time, 1765130000);
  record_death(deaths, death("a", "expired"));  // another reason: its own entry
  EXPECT_EQ(deaths.size(), 3u);
}

TEST(XDeath, CyclesWithoutARejectionAreBrokenAndRejectedOnesAllowed) {
  // a expires into b, b expires back into a: a cycle of expiries.
  std::vector<DeathEntry> deaths;
  record_death(deaths, death("a", "expired"));
  record_death(deaths, death("b", "expired"));
  EXPECT_TRUE(is_dead_letter_cycle(deaths, "a"));
  EXPECT_TRUE(is_dead_letter_cycle(deaths, "b")) << "back to itself";
  EXPECT_FALSE(is_dead_letter_cycle(deaths, "c"));
  // A consumer rejected it in b: the loop is a consumer's choice.
  std::vector<DeathEntry> rejected;
  record_death(rejected, death("a", "expired"));
  record_death(rejected, death("b", "rejected"));
  EXPECT_FALSE(is_dead_letter_cycle(rejected, "a"));
  EXPECT_FALSE(is_dead_letter_cycle(rejected, "b"));
  // A rejection older than the loop does not excuse it.
  std::vector<DeathEntry> older;
  record_death(older, death("z", "rejected"));
  record_death(older, death("a", "maxlen"));
  record_death(older, death("b", "expired"));
  EXPECT_TRUE(is_dead_letter_cycle(older, "a"));
}

}  // namespace
}  // namespace ferry::broker
