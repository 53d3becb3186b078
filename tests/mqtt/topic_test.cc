#include "mqtt/topic.h"

#include <gtest/gtest.h>

namespace ferry::mqtt {
namespace {

TEST(MqttTopic, TopicNames) {
  EXPECT_EQ(check_topic_name("a/b/c"), ReasonCode::kSuccess);
  EXPECT_EQ(check_topic_name("/"), ReasonCode::kSuccess);
  EXPECT_EQ(check_topic_name("a//b"), ReasonCode::kSuccess);
  EXPECT_EQ(check_topic_name("$SYS/x"), ReasonCode::kSuccess);
  EXPECT_EQ(check_topic_name(""), ReasonCode::kTopicNameInvalid);
  EXPECT_EQ(check_topic_name("a/+/c"), ReasonCode::kTopicNameInvalid);
  EXPECT_EQ(check_topic_name("a/#"), ReasonCode::kTopicNameInvalid);
  EXPECT_EQ(check_topic_name("a#"), ReasonCode::kTopicNameInvalid);
}

ReasonCode parse(std::string_view s) {
  TopicFilter f;
  return parse_topic_filter(s, f);
}

TEST(MqttTopic, ValidFilters) {
  for (const char* s : {"a", "a/b", "#", "+", "a/#", "a/+/c", "+/+", "/+", "+/", "/#", "a//#", "$SYS/#", "sport/+/player1"}) {
    EXPECT_EQ(parse(s), ReasonCode::kSuccess) << s;
  }
  TopicFilter f;
  ASSERT_EQ(parse_topic_filter("a/+/c", f), ReasonCode::kSuccess);
  EXPECT_TRUE(f.has_wildcard);
  EXPECT_EQ(f.filter, "a/+/c");
  EXPECT_TRUE(f.share_group.empty());
  ASSERT_EQ(parse_topic_filter("a/b", f), ReasonCode::kSuccess);
  EXPECT_FALSE(f.has_wildcard);
}

TEST(MqttTopic, MisplacedWildcardsAreInvalid) {
  // spec 4.7.1.2 and 4.7.1.3: '#' last and alone in its level; '+' alone in its level.
  for (const char* s : {"", "a/#/b", "#/a", "a#", "a/b#", "a+", "a/+b", "+a/b", "##", "a/++", "sport/tennis#"}) {
    EXPECT_EQ(parse(s), ReasonCode::kTopicFilterInvalid) << s;
  }
}

TEST(MqttTopic, SharedSubscriptionFilters) {
  TopicFilter f;
  ASSERT_EQ(parse_topic_filter("$share/g1/a/+/c", f), ReasonCode::kSuccess);
  EXPECT_EQ(f.share_group, "g1");
  EXPECT_EQ(f.filter, "a/+/c");
  EXPECT_TRUE(f.has_wildcard);
  ASSERT_EQ(parse_topic_filter("$share/g/#", f), ReasonCode::kSuccess);
  EXPECT_EQ(f.filter, "#");
  // spec 4.8.2: a non-empty group without '/', '+', '#', then '/' and a filter.
  for (const char* s : {"$share/", "$share/g", "$share/g/", "$share//a", "$share/g+/a", "$share/#/a", "$share/g/a#"}) {
    EXPECT_EQ(parse(s), ReasonCode::kTopicFilterInvalid) << s;
  }
  // "$shared/..." and "$sharex" are plain filters.
  ASSERT_EQ(parse_topic_filter("$shared/a", f), ReasonCode::kSuccess);
  EXPECT_TRUE(f.share_group.empty());
}

TEST(MqttTopic, Matching) {
  EXPECT_TRUE(topic_matches("a/b/c", "a/b/c"));
  EXPECT_FALSE(topic_matches("a/b/c", "a/b"));
  EXPECT_TRUE(topic_matches("a/+/c", "a/x/c"));
  EXPECT_FALSE(topic_matches("a/+/c", "a/x/y/c"));
  EXPECT_TRUE(topic_matches("a/#", "a"));  // spec 4.7.1.2: the parent level too
  EXPECT_TRUE(topic_matches("a/#", "a/b/c"));
  EXPECT_FALSE(topic_matches("a/#", "ab"));
  EXPECT_TRUE(topic_matches("#", "a/b"));
  EXPECT_TRUE(topic_matches("+/+", "/x"));
  EXPECT_TRUE(topic_matches("+", ""));
  EXPECT_FALSE(topic_matches("+", "a/b"));
  EXPECT_FALSE(topic_matches("#", "$SYS/x"));  // spec 4.7.2
  EXPECT_FALSE(topic_matches("+/x", "$SYS/x"));
  EXPECT_TRUE(topic_matches("$SYS/#", "$SYS/x"));
}

}  // namespace
}  // namespace ferry::mqtt
