#include "broker/routing_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace ferry::broker {
namespace {

using Names = std::vector<std::string>;

class MapHeaders final : public HeaderLookup {
 public:
  MapHeaders(std::initializer_list<std::pair<const std::string, std::string>> h) : h_(h) {}
  std::optional<std::string_view> find(std::string_view name) const override {
    const auto it = h_.find(name);
    if (it == h_.end()) return std::nullopt;
    return std::string_view(it->second);
  }

 private:
  std::map<std::string, std::string, std::less<>> h_;
};

ExchangeProperties props(ExchangeType type, bool durable = false, bool auto_delete = false) {
  ExchangeProperties p;
  p.type = type;
  p.durable = durable;
  p.auto_delete = auto_delete;
  return p;
}

BindingDestination queue(std::string n) { return BindingDestination::queue(std::move(n)); }
BindingDestination exchange(std::string n) { return BindingDestination::exchange(std::move(n)); }

class RoutingTableTest : public ::testing::Test {
 protected:
  // The queues a publish reaches, sorted, checking that none comes twice.
  Names route(std::string_view x, std::string_view key, const HeaderLookup& h = NoHeaders()) {
    std::vector<std::string_view> out;
    const Status o = table.route(x, key, h, out);
    EXPECT_TRUE(o.ok()) << o.error().message;
    Names names(out.begin(), out.end());
    std::sort(names.begin(), names.end());
    EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end()) << "a queue routed to twice";
    return names;
  }
  void queues(std::initializer_list<const char*> names) {
    for (const char* n : names) table.add_queue(n);
  }
  void ok(const Status& o) { ASSERT_TRUE(o.ok()) << o.error().message; }
  void fails(const Status& o, const std::string& text) {
    EXPECT_FALSE(o.ok());
    EXPECT_EQ(o.error().message, text);
  }

  RoutingTable table{"/", 100, 1000};
};

TEST_F(RoutingTableTest, PredeclaredExchanges) {
  EXPECT_EQ(table.exchange_count(), 5u);
  const std::vector<std::pair<std::string, ExchangeType>> want = {{"", ExchangeType::kDirect},
                                                                  {"amq.direct", ExchangeType::kDirect},
                                                                  {"amq.fanout", ExchangeType::kFanout},
                                                                  {"amq.topic", ExchangeType::kTopic},
                                                                  {"amq.headers", ExchangeType::kHeaders}};
  for (const auto& [name, type] : want) {
    const Exchange* x = table.find(name);
    ASSERT_NE(x, nullptr) << name;
    EXPECT_EQ(x->type(), type) << name;
    EXPECT_TRUE(x->properties().durable) << name;
  }
  // Redeclaring one as it is succeeds; otherwise it names the difference.
  ok(table.declare("amq.topic", props(ExchangeType::kTopic, true)));
  fails(table.declare("amq.topic", props(ExchangeType::kTopic, false)),
        "inequivalent arg 'durable' for exchange 'amq.topic' in vhost '/': received 'false' but current is 'true'");
  fails(table.declare("amq.custom", props(ExchangeType::kTopic)),
        "exchange name 'amq.custom' contains reserved prefix 'amq.*'");
  fails(table.delete_exchange("amq.topic"), "deletion of system exchange 'amq.topic' in vhost '/' not allowed");
  fails(table.delete_exchange(""), "operation not permitted on the default exchange");
  fails(table.declare("", props(ExchangeType::kDirect, true)), "operation not permitted on the default exchange");
  EXPECT_EQ(table.exchange_count(), 5u);
}

TEST_F(RoutingTableTest, DefaultExchangeRoutesByQueueName) {
  queues({"orders", "audit"});
  EXPECT_EQ(route("", "orders"), (Names{"orders"}));
  EXPECT_EQ(route("", "audit"), (Names{"audit"}));
  EXPECT_EQ(route("", "missing"), Names{});
  EXPECT_EQ(route("", "orders.#"), Names{});
  // Its bindings are implicit: none can be made or removed.
  fails(table.bind("", queue("orders"), "x"), "operation not permitted on the default exchange");
  fails(table.unbind("", queue("orders"), "orders"), "operation not permitted on the default exchange");
  fails(table.bind("amq.direct", exchange(""), "x"), "operation not permitted on the default exchange");
  EXPECT_EQ(table.binding_count(), 0u);
  table.remove_queue("orders");
  EXPECT_EQ(route("", "orders"), Names{});
}

TEST_F(RoutingTableTest, RedeclareMustBeEquivalent) {
  ok(table.declare("logs", props(ExchangeType::kTopic)));
  ok(table.declare("logs", props(ExchangeType::kTopic)));
  fails(table.declare("logs", props(ExchangeType::kFanout)),
        "inequivalent arg 'type' for exchange 'logs' in vhost '/': received 'fanout' but current is 'topic'");
  fails(table.declare("logs", props(ExchangeType::kTopic, true)),
        "inequivalent arg 'durable' for exchange 'logs' in vhost '/': received 'true' but current is 'false'");
  fails(table.declare("logs", props(ExchangeType::kTopic, false, true)),
        "inequivalent arg 'auto_delete' for exchange 'logs' in vhost '/': received 'true' but current is 'false'");
  ExchangeProperties internal = props(ExchangeType::kTopic);
  internal.internal = true;
  fails(table.declare("logs", internal),
        "inequivalent arg 'internal' for exchange 'logs' in vhost '/': received 'true' but current is 'false'");
  ExchangeProperties with_ae = props(ExchangeType::kTopic);
  with_ae.arguments = {{"alternate-exchange", "unrouted"}};
  fails(table.declare("logs", with_ae),
        "inequivalent arg 'alternate-exchange' for exchange 'logs' in vhost '/': received 'unrouted' but current is "
        "none");
  ok(table.declare("with-ae", with_ae));
  fails(table.declare("with-ae", props(ExchangeType::kTopic)),
        "inequivalent arg 'alternate-exchange' for exchange 'with-ae' in vhost '/': received none but current is "
        "'unrouted'");
  with_ae.arguments["alternate-exchange"] = "other";
  fails(table.declare("with-ae", with_ae),
        "inequivalent arg 'alternate-exchange' for exchange 'with-ae' in vhost '/': received 'other' but current is "
        "'unrouted'");
  // Nothing changed on any failure.
  EXPECT_EQ(table.find("logs")->type(), ExchangeType::kTopic);
  EXPECT_FALSE(table.find("logs")->properties().durable);
  EXPECT_EQ(table.exchange_count(), 7u);
}

TEST_F(RoutingTableTest, NamesAreBounded) {
  ok(table.declare(std::string(255, 'n'), props(ExchangeType::kDirect)));
  fails(table.declare(std::string(256, 'n'), props(ExchangeType::kDirect)),
        "exchange name of 256 bytes; at most 255 are allowed");
  queues({"q"});
  fails(table.bind("amq.direct", queue("q"), std::string(RoutingTable::kMaxKeyBytes + 1, 'k')),
        "binding key of 65536 bytes; at most 65535 are allowed");
  fails(table.bind("amq.topic", queue("q"), "a." + std::string(256, 'k')),
        "topic pattern has a word of 256 bytes; at most 255 are allowed");
  fails(table.bind("amq.headers", queue("q"), "", {{"x-match", "most"}}),
        "invalid x-match field value 'most'; expected all, any, all-with-x, or any-with-x");
  EXPECT_EQ(table.binding_count(), 0u);
}

TEST_F(RoutingTableTest, UnknownThingsAreNamed) {
  queues({"q"});
  std::vector<std::string_view> out;
  fails(table.route("nope", "k", NoHeaders(), out), "no exchange 'nope' in vhost '/'");
  fails(table.bind("nope", queue("q"), "k"), "no exchange 'nope' in vhost '/'");
  fails(table.bind("amq.direct", queue("missing"), "k"), "no queue 'missing' in vhost '/'");
  fails(table.bind("amq.direct", exchange("missing"), "k"), "no exchange 'missing' in vhost '/'");
  fails(table.unbind("nope", queue("q"), "k"), "no exchange 'nope' in vhost '/'");
  ok(table.unbind("amq.direct", queue("q"), "never-bound"));  // an absent binding: nothing to do
  ok(table.delete_exchange("never-declared"));                 // RabbitMQ 3.x: idempotent
}

// RabbitMQ's tutorial five, through a topic exchange to queues: Q2 is bound
// twice and gets "lazy.pink.rabbit" once.
TEST_F(RoutingTableTest, TopicTutorialDeliversOncePerQueue) {
  queues({"Q1", "Q2"});
  ok(table.declare("topic_logs", props(ExchangeType::kTopic)));
  ok(table.bind("topic_logs", queue("Q1"), "*.orange.*"));
  ok(table.bind("topic_logs", queue("Q2"), "*.*.rabbit"));
  ok(table.bind("topic_logs", queue("Q2"), "lazy.#"));
  EXPECT_EQ(route("topic_logs", "quick.orange.rabbit"), (Names{"Q1", "Q2"}));
  EXPECT_EQ(route("topic_logs", "lazy.orange.elephant"), (Names{"Q1", "Q2"}));
  EXPECT_EQ(route("topic_logs", "quick.orange.fox"), (Names{"Q1"}));
  EXPECT_EQ(route("topic_logs", "lazy.brown.fox"), (Names{"Q2"}));
  EXPECT_EQ(route("topic_logs", "lazy.pink.rabbit"), (Names{"Q2"}));
  EXPECT_EQ(route("topic_logs", "quick.brown.fox"), Names{});
  EXPECT_EQ(route("topic_logs", "orange"), Names{});
  EXPECT_EQ(route("topic_logs", "quick.orange.male.rabbit"), Names{});
  EXPECT_EQ(route("topic_logs", "lazy.orange.male.rabbit"), (Names{"Q2"}));
}

TEST_F(RoutingTableTest, DuplicateBindingIsOneBinding) {
  queues({"q"});
  ok(table.bind("amq.topic", queue("q"), "a.*"));
  ok(table.bind("amq.topic", queue("q"), "a.*"));
  EXPECT_EQ(table.binding_count(), 1u);
  EXPECT_EQ(table.find("amq.topic")->binding_count(), 1u);
  ok(table.unbind("amq.topic", queue("q"), "a.*"));
  EXPECT_EQ(table.binding_count(), 0u);
  EXPECT_EQ(route("amq.topic", "a.b"), Names{});
}

TEST_F(RoutingTableTest, ExchangeToExchange) {
  queues({"eu-orders", "all-orders", "audit"});
  ok(table.declare("orders", props(ExchangeType::kTopic)));
  ok(table.declare("eu", props(ExchangeType::kDirect)));
  ok(table.declare("audit", props(ExchangeType::kFanout)));
  ok(table.bind("orders", exchange("eu"), "orders.eu.*"));
  ok(table.bind("orders", queue("all-orders"), "orders.#"));
  ok(table.bind("orders", exchange("audit"), "#"));
  ok(table.bind("eu", queue("eu-orders"), "orders.eu.new"));
  ok(table.bind("audit", queue("audit"), ""));
  EXPECT_EQ(route("orders", "orders.eu.new"), (Names{"all-orders", "audit", "eu-orders"}));
  EXPECT_EQ(route("orders", "orders.eu.paid"), (Names{"all-orders", "audit"}));
  EXPECT_EQ(route("orders", "invoices"), (Names{"audit"}));
  EXPECT_EQ(route("eu", "orders.eu.new"), (Names{"eu-orders"}));  // the middle exchange on its own
}

TEST_F(RoutingTableTest, DiamondDeliversOnce) {
  queues({"q"});
  for (const char* x : {"top", "left", "right"}) ok(table.declare(x, props(ExchangeType::kFanout)));
  ok(table.bind("top", exchange("left"), ""));
  ok(table.bind("top", exchange("right"), ""));
  ok(table.bind("left", queue("q"), ""));
  ok(table.bind("right", queue("q"), ""));
  ok(table.bind("top", queue("q"), ""));
  EXPECT_EQ(route("top", "k"), (Names{"q"}));
}

TEST_F(RoutingTableTest, CyclesEndAndDeliverOnce) {
  queues({"qa", "qb", "qc"});
  for (const char* x : {"a", "b", "c"}) ok(table.declare(x, props(ExchangeType::kFanout)));
  // a -> b -> c -> a, each also to its queue, and a bound to itself.
  ok(table.bind("a", exchange("b"), ""));
  ok(table.bind("b", exchange("c"), ""));
  ok(table.bind("c", exchange("a"), ""));
  ok(table.bind("a", exchange("a"), ""));
  ok(table.bind("a", queue("qa"), ""));
  ok(table.bind("b", queue("qb"), ""));
  ok(table.bind("c", queue("qc"), ""));
  ok(table.bind("c", queue("qa"), ""));
  EXPECT_EQ(route("a", "k"), (Names{"qa", "qb", "qc"}));
  EXPECT_EQ(route("c", "k"), (Names{"qa", "qb", "qc"}));
  // Routing again (a new message) is not affected by the last one's marks.
  EXPECT_EQ(route("b", "k"), (Names{"qa", "qb", "qc"}));
}

TEST_F(RoutingTableTest, HeadersExchange) {
  queues({"pdf", "any-report"});
  ok(table.bind("amq.headers", queue("pdf"), "", {{"x-match", "all"}, {"format", "pdf"}, {"type", "report"}}));
  ok(table.bind("amq.headers", queue("any-report"), "", {{"x-match", "any"}, {"type", "report"}, {"kind", "r"}}));
  EXPECT_EQ(route("amq.headers", "ignored", MapHeaders{{"format", "pdf"}, {"type", "report"}}),
            (Names{"any-report", "pdf"}));
  EXPECT_EQ(route("amq.headers", "", MapHeaders{{"format", "pdf"}}), Names{});
  EXPECT_EQ(route("amq.headers", "", MapHeaders{{"kind", "r"}}), (Names{"any-report"}));
}

TEST_F(RoutingTableTest, RemovingAQueueRemovesItsBindings) {
  queues({"q", "p"});
  ok(table.bind("amq.topic", queue("q"), "a.#"));
  ok(table.bind("amq.fanout", queue("q"), ""));
  ok(table.bind("amq.fanout", queue("p"), ""));
  EXPECT_EQ(table.binding_count(), 3u);
  table.remove_queue("q");
  EXPECT_EQ(table.binding_count(), 1u);
  EXPECT_EQ(route("amq.fanout", ""), (Names{"p"}));
  EXPECT_EQ(route("amq.topic", "a.b"), Names{});
  table.add_queue("q");  // a new queue of the same name has no bindings
  EXPECT_EQ(route("amq.fanout", ""), (Names{"p"}));
  ok(table.bind("amq.fanout", queue("q"), ""));
  EXPECT_EQ(route("amq.fanout", ""), (Names{"p", "q"}));
  table.remove_queue("never-there");
}

TEST_F(RoutingTableTest, DeletingAnExchangeRemovesBindingsFromAndToIt) {
  queues({"q"});
  ok(table.declare("mid", props(ExchangeType::kFanout)));
  ok(table.bind("amq.fanout", exchange("mid"), ""));
  ok(table.bind("mid", queue("q"), ""));
  EXPECT_EQ(table.binding_count(), 2u);
  fails(table.delete_exchange("mid", true), "exchange 'mid' in vhost '/' in use");
  EXPECT_EQ(table.binding_count(), 2u);
  ok(table.delete_exchange("mid"));
  EXPECT_EQ(table.find("mid"), nullptr);
  EXPECT_EQ(table.binding_count(), 0u);
  EXPECT_EQ(table.find("amq.fanout")->binding_count(), 0u);
  EXPECT_EQ(route("amq.fanout", ""), Names{});
  ok(table.declare("unused", props(ExchangeType::kFanout)));
  ok(table.delete_exchange("unused", true));
  // Declared again under the same name: a new exchange, bound afresh.
  ok(table.declare("mid", props(ExchangeType::kFanout)));
  ok(table.bind("amq.fanout", exchange("mid"), ""));
  ok(table.bind("mid", queue("q"), ""));
  EXPECT_EQ(route("amq.fanout", ""), (Names{"q"}));
}

TEST_F(RoutingTableTest, AutoDeleteGoesWithItsLastBinding) {
  queues({"q", "p"});
  ok(table.declare("ad", props(ExchangeType::kDirect, false, true)));
  ok(table.declare("fresh", props(ExchangeType::kDirect, false, true)));
  ok(table.bind("ad", queue("q"), "k"));
  ok(table.bind("ad", queue("p"), "k"));
  ok(table.unbind("ad", queue("q"), "k"));
  EXPECT_NE(table.find("ad"), nullptr);  // one binding left
  table.remove_queue("p");
  EXPECT_EQ(table.find("ad"), nullptr);
  EXPECT_NE(table.find("fresh"), nullptr);  // never bound: stays
  ok(table.bind("fresh", queue("q"), "k"));
  ok(table.unbind("fresh", queue("q"), "k"));
  EXPECT_EQ(table.find("fresh"), nullptr);
}

TEST_F(RoutingTableTest, AutoDeleteCascadesThroughExchanges) {
  queues({"q"});
  ok(table.declare("outer", props(ExchangeType::kFanout, false, true)));
  ok(table.declare("inner", props(ExchangeType::kFanout, false, true)));
  ok(table.declare("keeper", props(ExchangeType::kFanout)));
  ok(table.bind("outer", exchange("inner"), ""));
  ok(table.bind("keeper", exchange("inner"), ""));
  ok(table.bind("inner", queue("q"), ""));
  table.remove_queue("q");  // inner loses its only binding, then outer its
  EXPECT_EQ(table.find("inner"), nullptr);
  EXPECT_EQ(table.find("outer"), nullptr);
  EXPECT_NE(table.find("keeper"), nullptr);  // not auto-delete: stays, unbound
  EXPECT_EQ(table.find("keeper")->binding_count(), 0u);
  EXPECT_EQ(table.binding_count(), 0u);
}

TEST_F(RoutingTableTest, InternalExchangesAreReachedOnlyThroughOthers) {
  queues({"q"});
  ExchangeProperties internal = props(ExchangeType::kFanout);
  internal.internal = true;
  ok(table.declare("inside", internal));
  ok(table.bind("inside", queue("q"), ""));
  ok(table.bind("amq.fanout", exchange("inside"), ""));
  std::vector<std::string_view> out;
  fails(table.route("inside", "", NoHeaders(), out), "cannot publish to internal exchange 'inside' in vhost '/'");
  EXPECT_EQ(route("amq.fanout", ""), (Names{"q"}));
}

TEST_F(RoutingTableTest, AlternateExchangeTakesWhatNothingMatched) {
  queues({"orders", "unrouted"});
  ok(table.declare("unrouted", props(ExchangeType::kFanout)));
  ok(table.bind("unrouted", queue("unrouted"), ""));
  ExchangeProperties with_ae = props(ExchangeType::kDirect);
  with_ae.arguments = {{"alternate-exchange", "unrouted"}};
  ok(table.declare("orders", with_ae));
  ok(table.bind("orders", queue("orders"), "new"));
  EXPECT_EQ(route("orders", "new"), (Names{"orders"}));
  EXPECT_EQ(route("orders", "typo"), (Names{"unrouted"}));
  // Two exchanges naming each other as alternates, with no bindings: ends.
  ExchangeProperties a = props(ExchangeType::kDirect);
  a.arguments = {{"alternate-exchange", "ae-b"}};
  ExchangeProperties b = props(ExchangeType::kDirect);
  b.arguments = {{"alternate-exchange", "ae-a"}};
  ok(table.declare("ae-a", a));
  ok(table.declare("ae-b", b));
  EXPECT_EQ(route("ae-a", "k"), Names{});
  // An alternate that does not exist (yet) is skipped.
  ExchangeProperties dangling = props(ExchangeType::kDirect);
  dangling.arguments = {{"alternate-exchange", "later"}};
  ok(table.declare("dangling", dangling));
  EXPECT_EQ(route("dangling", "k"), Names{});
}

TEST_F(RoutingTableTest, ExchangeLimit) {
  RoutingTable small("/", 2, 10);
  ok(small.declare("one", props(ExchangeType::kDirect)));
  ok(small.declare("two", props(ExchangeType::kDirect)));
  fails(small.declare("three", props(ExchangeType::kDirect)),
        "cannot declare exchange 'three' in vhost '/': vhost exchange limit (2) is reached");
  ok(small.declare("two", props(ExchangeType::kDirect)));  // redeclaring is no new exchange
  ok(small.delete_exchange("one"));
  ok(small.declare("three", props(ExchangeType::kDirect)));
  EXPECT_EQ(small.exchange_count(), 7u);
}

TEST_F(RoutingTableTest, BindingLimit) {
  RoutingTable small("/v", 10, 2);
  small.add_queue("q");
  ok(small.bind("amq.direct", queue("q"), "a"));
  ok(small.bind("amq.direct", queue("q"), "b"));
  ok(small.bind("amq.direct", queue("q"), "b"));  // exists: no new binding
  const Status o = small.bind("amq.direct", queue("q"), "c");
  EXPECT_FALSE(o.ok());
  EXPECT_EQ(o.error().message, "cannot bind to exchange 'amq.direct' in vhost '/v': vhost binding limit (2) is reached");
  ok(small.unbind("amq.direct", queue("q"), "a"));
  ok(small.bind("amq.direct", queue("q"), "c"));
  EXPECT_EQ(small.binding_count(), 2u);
}

// Many topic bindings through the table, then all removed: the routing
// answers stay right and nothing is left behind.
TEST_F(RoutingTableTest, ManyTopicBindingsComeAndGo) {
  RoutingTable big("/", 10, 20'000);
  for (int i = 0; i < 10'000; ++i) big.add_queue("q" + std::to_string(i));
  for (int i = 0; i < 10'000; ++i) {
    const std::string pattern = "region" + std::to_string(i % 100) + ".*.item" + std::to_string(i) + ".#";
    ASSERT_TRUE(big.bind("amq.topic", queue("q" + std::to_string(i)), pattern).ok());
  }
  std::vector<std::string_view> out;
  ASSERT_TRUE(big.route("amq.topic", "region7.eu.item507.x.y", NoHeaders(), out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], "q507");
  ASSERT_TRUE(big.route("amq.topic", "region7.eu.item508", NoHeaders(), out).ok());
  EXPECT_TRUE(out.empty());
  for (int i = 0; i < 10'000; ++i) big.remove_queue("q" + std::to_string(i));
  EXPECT_EQ(big.binding_count(), 0u);
  EXPECT_EQ(big.find("amq.topic")->binding_count(), 0u);
}

}  // namespace
}  // namespace ferry::broker
