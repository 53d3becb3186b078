#include "broker/virtual_topic.h"

#include <gtest/gtest.h>

namespace ferry::broker {
namespace {

TEST(VirtualTopic, AConsumerQueueNamesItsTopic) {
  EXPECT_EQ(virtual_topic_of_queue("Consumer.A.VirtualTopic.Orders"), "VirtualTopic.Orders");
  EXPECT_EQ(virtual_topic_of_queue("Consumer.billing.VirtualTopic.orders.eu"), "VirtualTopic.orders.eu");
}

TEST(VirtualTopic, OtherNamesAreNotConsumerQueues) {
  for (std::string_view name : {"orders", "Consumer.A", "Consumer.A.Orders", "Consumer..VirtualTopic.X",
                                "Consumer.A.VirtualTopic.", "Consumer.A.B.VirtualTopic.X", "consumer.A.VirtualTopic.X",
                                "VirtualTopic.X", "Consumer.VirtualTopic.X"})
    EXPECT_EQ(virtual_topic_of_queue(name), std::nullopt) << name;
}

TEST(VirtualTopic, AWildcardTopicIsNotBound) {
  EXPECT_EQ(virtual_topic_of_queue("Consumer.A.VirtualTopic.*"), std::nullopt);
  EXPECT_EQ(virtual_topic_of_queue("Consumer.A.VirtualTopic.orders.>"), std::nullopt);
}

}  // namespace
}  // namespace ferry::broker
