#include "broker/exchanges.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "broker/declared_exchanges.h"

namespace ferry::broker {
namespace {

std::string text_of(const Status& s) { return s ? std::string() : s.error().text(); }

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/ferry-exchanges-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

ExchangeChange declare(std::string vhost, std::string name, ExchangeType type, bool durable = true) {
  ExchangeChange c;
  c.kind = ExchangeChange::Kind::kDeclare;
  c.vhost = std::move(vhost);
  c.exchange = std::move(name);
  c.properties.type = type;
  c.properties.durable = durable;
  return c;
}

ExchangeChange bind(std::string vhost, std::string source, BindingDestination d, std::string key,
                    Arguments args = {}, ExchangeChange::Kind kind = ExchangeChange::Kind::kBind) {
  ExchangeChange c;
  c.kind = kind;
  c.vhost = std::move(vhost);
  c.exchange = std::move(source);
  c.destination = std::move(d);
  c.key = std::move(key);
  c.arguments = std::move(args);
  return c;
}

std::vector<std::string> route(ExchangeReplica& r, std::string_view vhost, std::string_view x, std::string_view key) {
  std::vector<std::string_view> out;
  EXPECT_EQ(text_of(r.table(vhost).route(x, key, NoHeaders(), out)), "");
  std::vector<std::string> names(out.begin(), out.end());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(ExchangeReplica, BindingAQueueMakesItKnownAndRemovingItUnbinds) {
  ExchangeReplica r(0, 0);
  ASSERT_EQ(text_of(r.apply(declare("/", "orders", ExchangeType::kDirect))), "");
  ASSERT_EQ(text_of(r.apply(bind("/", "orders", BindingDestination::queue("eu"), "eu"))), "");
  EXPECT_EQ(route(r, "/", "orders", "eu"), std::vector<std::string>{"eu"});
  EXPECT_TRUE(r.has_bindings("/", "orders"));
  EXPECT_FALSE(r.has_bindings("/", "amq.topic"));
  EXPECT_FALSE(r.has_bindings("other", "orders"));
  ExchangeChange gone;
  gone.kind = ExchangeChange::Kind::kRemoveQueue;
  gone.vhost = "/";
  gone.destination = BindingDestination::queue("eu");
  ASSERT_EQ(text_of(r.apply(gone)), "");
  EXPECT_TRUE(route(r, "/", "orders", "eu").empty());
  EXPECT_FALSE(r.find("/")->has_queue("eu"));
}

TEST(ExchangeReplica, AFailedBindLeavesNoQueueBehind) {
  ExchangeReplica r(0, 0);
  EXPECT_EQ(text_of(r.apply(bind("/", "nope", BindingDestination::queue("q"), "k"))),
            "no exchange 'nope' in vhost '/'");
  EXPECT_FALSE(r.find("/")->has_queue("q"));
  // Unbinding a queue never bound is a success; from an unknown exchange not.
  EXPECT_EQ(text_of(r.apply(bind("/", "amq.direct", BindingDestination::queue("q"), "k", {},
                                 ExchangeChange::Kind::kUnbind))),
            "");
  EXPECT_EQ(text_of(r.apply(bind("/", "nope", BindingDestination::queue("q"), "k", {},
                                 ExchangeChange::Kind::kUnbind))),
            "no exchange 'nope' in vhost '/'");
}

TEST(ExchangeReplica, ZeroMeansNoLimitAndLimitsAreRabbitMQs) {
  ExchangeReplica unbounded(0, 0);
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(text_of(unbounded.apply(declare("/", "x" + std::to_string(i), ExchangeType::kFanout))), "");
  ExchangeReplica bounded(1, 1);
  ASSERT_EQ(text_of(bounded.apply(declare("/", "a", ExchangeType::kFanout))), "");
  EXPECT_EQ(text_of(bounded.apply(declare("/", "b", ExchangeType::kFanout))),
            "cannot declare exchange 'b' in vhost '/': vhost exchange limit (1) is reached");
  ASSERT_EQ(text_of(bounded.apply(bind("/", "a", BindingDestination::queue("q"), ""))), "");
  EXPECT_EQ(text_of(bounded.apply(bind("/", "a", BindingDestination::queue("r"), ""))),
            "cannot bind to exchange 'a' in vhost '/': vhost binding limit (1) is reached");
  // Per vhost.
  EXPECT_EQ(text_of(bounded.apply(declare("shop", "b", ExchangeType::kFanout))), "");
}

TEST(ExchangeReplica, TwoReplicasGivenTheSameChangesAgree) {
  ExchangeReplica a(0, 0), b(0, 0);
  const std::vector<ExchangeChange> changes = {
      declare("/", "logs", ExchangeType::kTopic), bind("/", "logs", BindingDestination::queue("errors"), "*.error"),
      bind("/", "logs", BindingDestination::queue("all"), "#"), declare("/", "logs", ExchangeType::kFanout),
      bind("/", "logs", BindingDestination::queue("all"), "#", {}, ExchangeChange::Kind::kUnbind)};
  std::vector<std::string> verdicts_a, verdicts_b;
  for (const auto& c : changes) verdicts_a.push_back(text_of(a.apply(c)));
  for (const auto& c : changes) verdicts_b.push_back(text_of(b.apply(c)));
  EXPECT_EQ(verdicts_a, verdicts_b);
  EXPECT_EQ(route(a, "/", "logs", "db.error"), route(b, "/", "logs", "db.error"));
  EXPECT_EQ(route(a, "/", "logs", "db.error"), std::vector<std::string>{"errors"});
}

TEST(BindingPropertiesKey, AsRabbitMQNamesThem) {
  EXPECT_EQ(binding_properties_key("", {}), "~");
  EXPECT_EQ(binding_properties_key("orders.eu", {}), "orders.eu");
  const std::string with = binding_properties_key("k", {{"x-match", "all"}, {"a", "1"}});
  EXPECT_TRUE(with.starts_with("k~")) << with;
  EXPECT_EQ(with, binding_properties_key("k", {{"a", "1"}, {"x-match", "all"}}));
  EXPECT_NE(with, binding_properties_key("k", {{"x-match", "any"}, {"a", "1"}}));
}

TEST(DeclaredExchanges, KeepsOnlyDurableExchangesAndBindingsAcrossAReload) {
  TempDir d;
  ExchangeReplica r(0, 0);
  ExchangeChange args = declare("/", "keep", ExchangeType::kTopic);
  args.properties.arguments = {{"alternate-exchange", "amq.fanout"}};
  ASSERT_EQ(text_of(r.apply(args)), "");
  ASSERT_EQ(text_of(r.apply(declare("/", "transient", ExchangeType::kFanout, false))), "");
  ASSERT_EQ(text_of(r.apply(bind("/", "keep", BindingDestination::queue("q"), "a.#"))), "");
  ASSERT_EQ(text_of(r.apply(bind("/", "amq.direct", BindingDestination::queue("q"), "k", {{"x", "y"}}))), "");
  ASSERT_EQ(text_of(r.apply(bind("/", "keep", BindingDestination::queue("amq.gen-abc"), "#"))), "");
  ASSERT_EQ(text_of(r.apply(bind("/", "keep", BindingDestination::exchange("transient"), "#"))), "");
  ASSERT_EQ(text_of(r.apply(bind("/", "transient", BindingDestination::queue("q"), ""))), "");
  DeclaredExchanges file(d.path);
  ASSERT_EQ(text_of(file.save(DeclaredExchanges::durable_part(r))), "");
  auto loaded = DeclaredExchanges(d.path).load();
  ASSERT_TRUE(loaded) << loaded.error().text();
  ASSERT_EQ(loaded->exchanges.size(), 1u);
  EXPECT_EQ(loaded->exchanges[0].name, "keep");
  EXPECT_EQ(loaded->exchanges[0].properties.type, ExchangeType::kTopic);
  EXPECT_EQ(loaded->exchanges[0].properties.arguments, (Arguments{{"alternate-exchange", "amq.fanout"}}));
  ASSERT_EQ(loaded->bindings.size(), 2u);
  EXPECT_EQ(loaded->bindings[0].source, "amq.direct");
  EXPECT_EQ(loaded->bindings[0].arguments, (Arguments{{"x", "y"}}));
  EXPECT_EQ(loaded->bindings[1].source, "keep");
  EXPECT_EQ(loaded->bindings[1].key, "a.#");
}

TEST(DeclaredExchanges, NoFileMeansNoneAndABadFileIsNamed) {
  TempDir d;
  auto none = DeclaredExchanges(d.path).load();
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->exchanges.empty() && none->bindings.empty());
  std::ofstream(d.path + "/declared-exchanges.json") << "{\"exchanges\": [{\"name\": 1}], \"bindings\": []}";
  auto bad = DeclaredExchanges(d.path).load();
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().text().find("declared-exchanges.json"), std::string::npos);
}

}  // namespace
}  // namespace ferry::broker
