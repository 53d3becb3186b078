#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ferry::broker {

// A durable topic subscription: a named queue fed by a topic that keeps
// collecting while its owner is away, across restarts. Named by the client's
// dialect: ActiveMQ (`client-id` + `activemq.subscriptionName`), RabbitMQ
// (`durable:true` + `id`), Artemis (`client-id` + `durable-subscription-name`).
//
// It belongs to the user who created it (docs/security.md, "Durable
// subscriptions"): only that user may attach to it or delete it.
struct DurableSubscription {
  std::string vhost;
  std::string topic;  // bare topic name
  std::string name;   // "<client-id>:<subscription name>" or the RabbitMQ id
  // The user who created it (journaled). In a request, the user asking. ""
  // = nobody: a record written before owners existed (claimed by the first
  // user who attaches), or a broker without authentication.
  std::string owner;
  // Request only (not journaled): this consumer may share the subscription
  // with other consumers (of the same owner) that asked for sharing too; an
  // exclusive one is the only consumer while attached.
  bool shared = false;

  // The journal key of the subscription and of its queue (the owner is not
  // part of the identity).
  std::string key() const { return "d:" + vhost + '\n' + topic + '\n' + name; }
};

// Journal payload of kSubscription / kUnsubscription records
// (docs/journal.md, "Subscription records"). Decoding reads both the
// current form and the older one without an owner.
std::string encode_subscription(const DurableSubscription& s);
std::optional<DurableSubscription> decode_subscription(std::string_view payload);
std::optional<std::string> subscription_key_of(std::string_view payload);

}  // namespace ferry::broker
