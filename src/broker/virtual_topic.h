#pragma once

#include <optional>
#include <string_view>

namespace ferry::broker {

// ActiveMQ's virtual topics, with its default naming: a queue named
// `Consumer.<NAME>.VirtualTopic.<REST>` (NAME one word) gets a copy of every
// message published to the topic `VirtualTopic.<REST>`, so that consumers
// sharing NAME share the topic's messages as a queue's (docs/dialects.md,
// "Virtual topics"). Ferry binds such a queue to amq.topic with key
// `VirtualTopic.<REST>` when it is subscribed to.
//
// The topic a queue of that form consumes; nullopt for any other name, and
// for a REST with a wildcard word (`*`, `#`, `>`), which would bind a
// pattern rather than the one topic.
std::optional<std::string_view> virtual_topic_of_queue(std::string_view queue);

}  // namespace ferry::broker
