#include "broker/virtual_topic.h"

#include "broker/topic_patterns.h"

namespace ferry::broker {

std::optional<std::string_view> virtual_topic_of_queue(std::string_view queue) {
  static constexpr std::string_view kConsumer = "Consumer.";
  static constexpr std::string_view kVirtualTopic = "VirtualTopic.";
  if (!queue.starts_with(kConsumer)) return std::nullopt;
  const std::string_view rest = queue.substr(kConsumer.size());
  const std::size_t dot = rest.find('.');
  if (dot == 0 || dot == std::string_view::npos) return std::nullopt;  // NAME is one non-empty word
  const std::string_view topic = rest.substr(dot + 1);
  if (!topic.starts_with(kVirtualTopic) || topic.size() == kVirtualTopic.size()) return std::nullopt;
  if (TopicPatterns::is_pattern(topic)) return std::nullopt;
  return topic;
}

}  // namespace ferry::broker
