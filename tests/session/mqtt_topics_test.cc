#include "session/mqtt_topics.h"

#include <gtest/gtest.h>

namespace ferry::session {
namespace {

// docs/mqtt.md's mapping table, row by row.
TEST(MqttTopics, TopicNamesSwapSlashAndDot) {
  EXPECT_EQ(topic_of_mqtt("a/b/c"), "a.b.c");
  EXPECT_EQ(topic_of_mqtt("v1.2/status"), "v1/2.status");
  EXPECT_EQ(topic_of_mqtt("/leading"), ".leading");
  EXPECT_EQ(topic_of_mqtt("a//b"), "a..b");
  EXPECT_EQ(topic_of_mqtt("plain"), "plain");
}

TEST(MqttTopics, FiltersBecomeWildcardTopics) {
  EXPECT_EQ(pattern_of_filter("a/+/c"), "a.*.c");
  EXPECT_EQ(pattern_of_filter("a/#"), "a.#");
  EXPECT_EQ(pattern_of_filter("#"), "#");
  EXPECT_EQ(pattern_of_filter("+/+"), "*.*");
  EXPECT_EQ(pattern_of_filter("v1.2/+"), "v1/2.*");
}

TEST(MqttTopics, DestinationsBackToTopicNames) {
  EXPECT_EQ(mqtt_topic_of_destination("/topic/a.b.c"), "a/b/c");
  EXPECT_EQ(mqtt_topic_of_destination("/topic/v1/2.status"), "v1.2/status");
  EXPECT_EQ(mqtt_topic_of_destination("/queue/jobs"), "queue/jobs");
  // The mapping is its own inverse.
  for (const char* t : {"a/b/c", "x.y/z", "/", "a//b/"}) EXPECT_EQ(mqtt_topic_of_destination("/topic/" + topic_of_mqtt(t)), t);
}

}  // namespace
}  // namespace ferry::session
