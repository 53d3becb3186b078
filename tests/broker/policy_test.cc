#include "broker/policy.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "broker/policy_store.h"

namespace ferry::broker {
namespace {

Policy policy(const std::string& name, const std::string& pattern, nlohmann::json definition,
              std::int64_t priority = 0, const std::string& vhost = "/", const std::string& apply_to = "all") {
  auto p = Policy::from_json(vhost, name, {{"pattern", pattern}, {"definition", definition},
                                           {"priority", priority}, {"apply-to", apply_to}});
  EXPECT_TRUE(p.ok()) << (p ? "" : p.error().text());
  return *p;
}

TEST(Policy, ReadsRabbitMQsBodyAndWritesItBack) {
  nlohmann::json body = {{"pattern", "^orders\\."},
                         {"definition", {{"max-length", 10}, {"overflow", "reject-publish"}, {"expires", "60000"}}},
                         {"priority", "7"},  // rabbitmqadmin sends text
                         {"apply-to", "queues"}};
  auto p = Policy::from_json("/", "limits", body);
  ASSERT_TRUE(p.ok()) << p.error().text();
  EXPECT_EQ(p->priority, 7);
  EXPECT_EQ(p->apply_to, ApplyTo::kQueues);
  EXPECT_EQ(p->definition.max_length, 10u);
  EXPECT_EQ(p->definition.expires, 60000u);
  EXPECT_EQ(p->to_json()["definition"],
            (nlohmann::json{{"max-length", 10}, {"overflow", "reject-publish"}, {"expires", 60000}}));
  EXPECT_EQ(p->to_json()["apply-to"], "queues");
}

TEST(Policy, RefusesWhatItCannotHonour) {
  auto refused = [](nlohmann::json body) {
    auto p = Policy::from_json("/", "p", body);
    return p ? std::string() : p.error().text();
  };
  EXPECT_NE(refused({{"pattern", "(a"}, {"definition", {{"max-length", 1}}}}).find("invalid policy pattern"),
            std::string::npos);
  EXPECT_NE(refused({{"pattern", "(a)\\1"}, {"definition", {{"max-length", 1}}}}).find("RE2"), std::string::npos);
  EXPECT_NE(refused({{"pattern", "a"}, {"definition", {{"max-priority", 1}}}}).find("not a policy key"),
            std::string::npos);
  EXPECT_NE(refused({{"pattern", "a"}, {"definition", {{"alternate-exchange", 5}}}}).find("alternate-exchange"),
            std::string::npos);
  EXPECT_NE(refused({{"pattern", "a"}, {"definition", {{"max-length", "many"}}}}).find("x-max-length"),
            std::string::npos);
  EXPECT_NE(refused({{"pattern", std::string(2000, 'a')}, {"definition", {{"max-length", 1}}}}).find("longer"),
            std::string::npos);
  // A routing key alone completes a queue's own dead-letter exchange.
  EXPECT_EQ(refused({{"pattern", "a"}, {"definition", {{"dead-letter-routing-key", "k"}}}}), "");
  // An empty key would leave a dead letter nowhere to go.
  EXPECT_NE(refused({{"pattern", "a"}, {"definition", {{"dead-letter-routing-key", ""}}}}).find("empty routing key"),
            std::string::npos);
}

TEST(Policy, QueueArgumentsWinAsRabbitMQDecides) {
  QueueArguments declared, definition;
  declared.max_length = 10;
  declared.message_ttl = 500;
  declared.overflow = Overflow::kDropHead;
  declared.dead_letter_exchange = "";
  definition.max_length = 5;          // lower: the policy's
  definition.message_ttl = 1000;      // higher: the queue's
  definition.expires = 60000;         // only the policy's
  definition.max_length_bytes = 100;  // only the policy's
  definition.overflow = Overflow::kRejectPublish;  // the queue's own wins
  definition.dead_letter_exchange = "amq.topic";   // the queue's own wins
  definition.dead_letter_routing_key = "k";        // the queue has none: the policy's
  definition.delivery_limit = 3;
  QueueArguments e = effective_arguments(declared, definition);
  EXPECT_EQ(e.max_length, 5u);
  EXPECT_EQ(e.message_ttl, 500u);
  EXPECT_EQ(e.expires, 60000u);
  EXPECT_EQ(e.max_length_bytes, 100u);
  EXPECT_EQ(e.overflow, Overflow::kDropHead);
  EXPECT_EQ(e.dead_letter_exchange, "");
  EXPECT_EQ(e.dead_letter_routing_key, "k");
  EXPECT_EQ(e.delivery_limit, 3u);
  EXPECT_EQ(effective_arguments(declared, {}), declared);
}

TEST(PolicySet, PicksTheHighestPriorityMatchInItsVhost) {
  PolicySet set({policy("b-low", "^orders", {{"max-length", 1}}, 1), policy("a-high", "orders", {{"max-length", 2}}, 5),
                 policy("tie-z", "^jobs$", {{"max-length", 3}}), policy("tie-a", "^jobs$", {{"max-length", 4}}),
                 policy("other-vhost", ".*", {{"max-length", 5}}, 99, "v2"),
                 policy("exchanges-only", ".*", {{"max-length", 6}}, 100, "/", "exchanges")});
  ASSERT_NE(set.for_queue("/", "orders.eu"), nullptr);
  EXPECT_EQ(set.for_queue("/", "orders.eu")->name, "a-high");
  EXPECT_EQ(set.for_queue("/", "jobs")->name, "tie-a");  // a tie: the first name
  EXPECT_EQ(set.for_queue("/", "jobs2"), nullptr);       // unanchored, but ^...$ anchors
  EXPECT_EQ(set.for_queue("v2", "anything")->name, "other-vhost");
  EXPECT_EQ(set.for_queue("v3", "orders"), nullptr);
  // An exchange follows the apply-to exchanges / all ones only.
  EXPECT_EQ(set.for_exchange("/", "x")->name, "exchanges-only");
  EXPECT_EQ(set.for_exchange("/", "orders")->name, "exchanges-only");
}

TEST(PolicySet, APathologicalPatternIsDecidedInLinearTime) {
  PolicySet set({policy("evil", "^(a*)*b$", {{"max-length", 1}})});
  const std::string name(100000, 'a');
  // A backtracking engine takes exponential time here (the test would not
  // finish); RE2 answers at once. No timing is asserted.
  EXPECT_EQ(set.for_queue("/", name), nullptr);
}

TEST(PolicyStore, KeepsPoliciesAcrossLoadsAndBoundsThemPerVhost) {
  const std::string dir = ::testing::TempDir() + "/policy_store_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  {
    PolicyStore store(dir, 2);
    ASSERT_TRUE(store.put(policy("p1", "a", {{"max-length", 1}})).ok());
    ASSERT_TRUE(store.put(policy("p2", "b", {{"max-length", 2}})).ok());
    ASSERT_TRUE(store.put(policy("p1", "c", {{"max-length", 3}})).ok());  // replaced
    ASSERT_TRUE(store.put(policy("p3", "d", {{"max-length", 1}}, 0, "v2")).ok());  // another vhost
    Status over = store.put(policy("p4", "e", {{"max-length", 1}}));
    ASSERT_FALSE(over.ok());
    EXPECT_NE(over.error().text().find("max-policies 2 in vhost '/'"), std::string::npos);
  }
  PolicyStore again(dir, 2);
  ASSERT_TRUE(again.load().ok());
  ASSERT_EQ(again.all().size(), 3u);
  ASSERT_NE(again.find("/", "p1"), nullptr);
  EXPECT_EQ(again.find("/", "p1")->pattern, "c");
  auto removed = again.remove("/", "p1");
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(*removed);
  EXPECT_FALSE(*again.remove("/", "p1"));
  PolicyStore third(dir, 2);
  ASSERT_TRUE(third.load().ok());
  EXPECT_EQ(third.all().size(), 2u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ferry::broker
