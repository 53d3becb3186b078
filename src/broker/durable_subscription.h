#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ferry::broker {

// A durable topic subscription: a named queue fed by a topic that keeps
// collecting while its owner is away, across restarts. Named by the client's
// dialect: ActiveMQ (`client-id` + `activemq.subscriptionName`), RabbitMQ
// (`durable:true` + `id`), Artemis (`client-id` + `durable-subscription-name`).
struct DurableSubscription {
  std::string vhost;
  std::string topic;  // bare topic name
  std::string name;   // "<client-id>:<subscription name>" or the RabbitMQ id

  // The journal key of the subscription and of its queue.
  std::string key() const { return "d:" + vhost + '\n' + topic + '\n' + name; }
};

// Journal payload of kSubscription / kUnsubscription records.
std::string encode_subscription(const DurableSubscription& s);
std::optional<DurableSubscription> decode_subscription(std::string_view payload);
std::optional<std::string> subscription_key_of(std::string_view payload);

}  // namespace ferry::broker
