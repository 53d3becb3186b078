#include "broker/queue_arguments.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace ferry::broker {
namespace {

std::string error_of(const Status& s) { return s ? std::string() : s.error().message; }

QueueArguments parsed(std::initializer_list<std::pair<std::string_view, std::string_view>> headers) {
  QueueArguments a;
  for (auto [name, value] : headers) {
    Status s = a.set(name, value);
    EXPECT_TRUE(s.ok()) << name << ":" << value << " " << error_of(s);
  }
  return a;
}

const Destination kQueue{DestinationKind::kQueue, "q", "/"};

TEST(QueueArguments, ReadsEachArgumentAsRabbitMQWritesIt) {
  auto a = parsed({{"x-max-length", "10"},
                   {"x-max-length-bytes", " 2048 "},  // trimmed, as RabbitMQ trims
                   {"x-overflow", "reject-publish-dlx"},
                   {"x-message-ttl", "0"},
                   {"x-expires", "60000"},
                   {"x-dead-letter-exchange", ""},
                   {"x-dead-letter-routing-key", "dead"},
                   {"x-max-priority", "255"},
                   {"x-single-active-consumer", "True"},
                   {"x-queue-type", "quorum"},
                   {"x-delivery-limit", "3"}});
  EXPECT_EQ(a.max_length, 10u);
  EXPECT_EQ(a.max_length_bytes, 2048u);
  EXPECT_EQ(a.overflow, Overflow::kRejectPublishDlx);
  EXPECT_EQ(a.message_ttl, 0u);
  EXPECT_EQ(a.expires, 60000u);
  EXPECT_EQ(a.dead_letter_exchange, "");
  EXPECT_EQ(a.dead_letter_routing_key, "dead");
  EXPECT_EQ(a.max_priority, 255);
  EXPECT_EQ(a.single_active_consumer, true);
  EXPECT_EQ(a.queue_type, "quorum");
  EXPECT_EQ(a.delivery_limit, 3u);
  EXPECT_EQ(a.to_json()["x-delivery-limit"], 3);
  EXPECT_TRUE(a.validate().ok());
  EXPECT_TRUE(QueueArguments().empty());
  EXPECT_FALSE(a.empty());
}

TEST(QueueArguments, BadValuesAreErrorsNamingTheArgument) {
  const std::pair<std::string_view, std::string_view> bad[] = {
      {"x-max-length", "ten"},        {"x-max-length", "-1"},        {"x-delivery-limit", "-1"},        {"x-max-length", ""},
      {"x-max-length-bytes", "1.5"},  {"x-message-ttl", "-5"},        {"x-expires", "0"},
      {"x-max-priority", "256"},      {"x-overflow", "drop-tail"},    {"x-single-active-consumer", "1"},
      {"x-queue-type", "lazy"},       {"x-max-length", "18446744073709551616"},
      {"x-message-ttl", "4503599627370497"},  // past 2^52
  };
  for (auto [name, value] : bad) {
    QueueArguments a;
    EXPECT_EQ(error_of(a.set(name, value)), "invalid queue argument " + std::string(name)) << value;
    EXPECT_TRUE(a.empty()) << "a refused value leaves nothing behind: " << name;
  }
  QueueArguments a;
  EXPECT_EQ(error_of(a.set("x-queue-type", "stream")), "stream queues are declared by use, not here");
  EXPECT_EQ(error_of(a.set("x-dead-letter-exchange", std::string(256, 'x'))),
            "invalid queue argument x-dead-letter-exchange");
}

TEST(QueueArguments, ValidateChecksTheWholeSet) {
  EXPECT_EQ(error_of(parsed({{"x-dead-letter-routing-key", "k"}}).validate()),
            "invalid queue argument x-dead-letter-routing-key");
  EXPECT_TRUE(parsed({{"x-dead-letter-exchange", "amq.topic"}}).validate().ok());
}

TEST(QueueArguments, MismatchUsesRabbitMQsText) {
  EXPECT_EQ(QueueArguments::mismatch(parsed({{"x-max-length", "10"}}), parsed({{"x-max-length", "5"}}), kQueue),
            "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'q' in vhost '/': received '10' but "
            "current is '5'");
  EXPECT_EQ(QueueArguments::mismatch(parsed({{"x-max-length", "5"}}), QueueArguments(), kQueue),
            "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'q' in vhost '/': received '5' but "
            "current is none");
  EXPECT_EQ(QueueArguments::mismatch(parsed({{"x-max-length", "5"}}),
                                     parsed({{"x-max-length", "5"}, {"x-message-ttl", "9"}}), kQueue),
            "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'q' in vhost '/': received none but "
            "current is '9'");
  EXPECT_EQ(QueueArguments::mismatch(parsed({{"x-max-length", "5"}}), parsed({{"x-max-length", " 5"}}), kQueue),
            std::nullopt);
  // No x-queue-type is classic.
  EXPECT_EQ(QueueArguments::mismatch(parsed({{"x-queue-type", "classic"}}), QueueArguments(), kQueue), std::nullopt);
  EXPECT_NE(QueueArguments::mismatch(parsed({{"x-queue-type", "quorum"}}), QueueArguments(), kQueue), std::nullopt);
}

TEST(QueueArguments, JsonRoundTripWithTypes) {
  auto a = parsed({{"x-max-length", "3"}, {"x-overflow", "reject-publish"}, {"x-single-active-consumer", "true"},
                   {"x-dead-letter-exchange", "amq.topic"}, {"x-max-priority", "5"}});
  const nlohmann::json j = a.to_json();
  EXPECT_EQ(j, nlohmann::json::parse(R"({"x-max-length": 3, "x-overflow": "reject-publish",
      "x-single-active-consumer": true, "x-dead-letter-exchange": "amq.topic", "x-max-priority": 5})"));
  auto back = QueueArguments::from_json(j);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, a);
  // Numbers as text are accepted too; unknown names and bad values are not.
  EXPECT_TRUE(QueueArguments::from_json(nlohmann::json::parse(R"({"x-max-length": "7"})")).ok());
  EXPECT_FALSE(QueueArguments::from_json(nlohmann::json::parse(R"({"x-other": 1})")).ok());
  EXPECT_FALSE(QueueArguments::from_json(nlohmann::json::parse(R"({"x-max-length": -1})")).ok());
  EXPECT_FALSE(QueueArguments::from_json(nlohmann::json::parse(R"({"x-max-length": 1.5})")).ok());
  EXPECT_FALSE(QueueArguments::from_json(nlohmann::json::parse(R"([1])")).ok());
}

TEST(QueueArguments, AnyExchangeMayTakeDeadLetters) {
  // As RabbitMQ: direct, fanout, headers, topic exchanges, declared or not
  // yet (ShardBroker::dead_letter_move routes through them).
  for (const char* x : {"", "amq.topic", "amq.direct", "amq.fanout", "amq.headers", "my.exchange"})
    EXPECT_TRUE(parsed({{"x-dead-letter-exchange", x}}).validate().ok()) << x;
  EXPECT_TRUE(parsed({{"x-dead-letter-exchange", "amq.fanout"}, {"x-dead-letter-routing-key", ""}}).validate().ok());
  // An empty key through the default exchange names no queue.
  EXPECT_FALSE(parsed({{"x-dead-letter-exchange", ""}, {"x-dead-letter-routing-key", ""}}).validate().ok());
  EXPECT_FALSE(parsed({{"x-dead-letter-routing-key", "k"}}).validate().ok()) << "a key without an exchange";
}

}  // namespace
}  // namespace ferry::broker
