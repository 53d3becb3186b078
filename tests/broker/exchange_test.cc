#include "broker/exchange.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace ferry::broker {
namespace {

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

class ExchangeTest : public ::testing::Test {
 protected:
  std::unique_ptr<Exchange> make(ExchangeType type) {
    ExchangeProperties p;
    p.type = type;
    return std::make_unique<Exchange>("x", p);
  }
  // Binds queue `queue` with a fresh id; the binding must be new and valid.
  void bind(Exchange& x, const std::string& queue, const std::string& key, const Arguments& args = {}) {
    ASSERT_TRUE(x.check_binding(key, args).ok()) << x.check_binding(key, args).error().message;
    ASSERT_EQ(x.find(BindingDestination::queue(queue), key, args), nullptr);
    x.add(BindingId{next_++}, BindingDestination::queue(queue), key, args);
  }
  // The destinations routed to, sorted (duplicates kept: the exchange reports
  // bindings; keeping queues once is the routing table's work).
  std::vector<std::string> route(Exchange& x, std::string_view key, const HeaderLookup& h = NoHeaders()) {
    std::vector<const Binding*> out;
    x.route(key, h, out);
    std::vector<std::string> names;
    for (const Binding* b : out) names.push_back(b->destination.name);
    std::sort(names.begin(), names.end());
    return names;
  }
  std::uint64_t next_ = 1;
};

using Names = std::vector<std::string>;

TEST(ExchangeType, NamesParseBothWays) {
  for (const ExchangeType t :
       {ExchangeType::kDirect, ExchangeType::kFanout, ExchangeType::kTopic, ExchangeType::kHeaders}) {
    ExchangeType parsed = ExchangeType::kDirect;
    ASSERT_TRUE(parse_exchange_type(exchange_type_name(t), parsed).ok());
    EXPECT_EQ(parsed, t);
  }
  ExchangeType parsed = ExchangeType::kTopic;
  const Status o = parse_exchange_type("x-consistent-hash", parsed);
  EXPECT_FALSE(o.ok());
  EXPECT_EQ(o.error().message, "unknown exchange type 'x-consistent-hash'");
  EXPECT_EQ(parsed, ExchangeType::kTopic);
}

TEST_F(ExchangeTest, DirectRoutesByTheWholeKey) {
  auto x = make(ExchangeType::kDirect);
  bind(*x, "errors", "error");
  bind(*x, "all", "error");
  bind(*x, "all", "info");
  EXPECT_EQ(route(*x, "error"), (Names{"all", "errors"}));
  EXPECT_EQ(route(*x, "info"), (Names{"all"}));
  EXPECT_EQ(route(*x, "warning"), Names{});
  EXPECT_EQ(route(*x, "error.x"), Names{});
  EXPECT_EQ(route(*x, "*"), Names{});  // no wildcards in a direct exchange
  EXPECT_TRUE(x->remove(BindingDestination::queue("all"), "error", {}));
  EXPECT_EQ(route(*x, "error"), (Names{"errors"}));
  EXPECT_FALSE(x->remove(BindingDestination::queue("all"), "error", {}));
  EXPECT_EQ(x->binding_count(), 2u);
}

TEST_F(ExchangeTest, FanoutIgnoresTheKey) {
  auto x = make(ExchangeType::kFanout);
  bind(*x, "a", "");
  bind(*x, "b", "whatever");
  EXPECT_EQ(route(*x, ""), (Names{"a", "b"}));
  EXPECT_EQ(route(*x, "anything.at.all"), (Names{"a", "b"}));
}

TEST_F(ExchangeTest, TopicUsesPatterns) {
  auto x = make(ExchangeType::kTopic);
  bind(*x, "q1", "*.orange.*");
  bind(*x, "q2", "*.*.rabbit");
  bind(*x, "q2", "lazy.#");
  EXPECT_EQ(route(*x, "quick.orange.rabbit"), (Names{"q1", "q2"}));
  // Two bindings of q2 match: the exchange reports both bindings.
  EXPECT_EQ(route(*x, "lazy.pink.rabbit"), (Names{"q2", "q2"}));
  EXPECT_EQ(route(*x, "quick.brown.fox"), Names{});
  const Status too_long = x->check_binding("a." + std::string(256, 'x'), {});
  EXPECT_FALSE(too_long.ok());
  EXPECT_TRUE(x->remove(BindingDestination::queue("q2"), "lazy.#", {}));
  EXPECT_EQ(route(*x, "lazy.brown.fox"), Names{});
}

TEST_F(ExchangeTest, BindingIsDestinationKeyAndArguments) {
  auto x = make(ExchangeType::kDirect);
  bind(*x, "q", "k");
  bind(*x, "q", "k", {{"x-tag", "1"}});  // other arguments: another binding
  EXPECT_EQ(x->binding_count(), 2u);
  EXPECT_NE(x->find(BindingDestination::queue("q"), "k", {}), nullptr);
  EXPECT_EQ(x->find(BindingDestination::exchange("q"), "k", {}), nullptr);  // an exchange named q is another
  EXPECT_EQ(x->find(BindingDestination::queue("q"), "k", {{"x-tag", "2"}}), nullptr);
  bind(*x, "p", "k");
  EXPECT_EQ(x->remove_all_to(BindingDestination::queue("q")), 2u);
  EXPECT_EQ(route(*x, "k"), (Names{"p"}));
  EXPECT_EQ(x->bindings().size(), 1u);
}

TEST_F(ExchangeTest, HeadersAllIsTheDefault) {
  auto x = make(ExchangeType::kHeaders);
  bind(*x, "pdf-reports", "ignored", {{"format", "pdf"}, {"type", "report"}});
  bind(*x, "all-pdf", "", {{"x-match", "all"}, {"format", "pdf"}});
  EXPECT_EQ(route(*x, "", MapHeaders{{"format", "pdf"}, {"type", "report"}}), (Names{"all-pdf", "pdf-reports"}));
  EXPECT_EQ(route(*x, "", MapHeaders{{"format", "pdf"}, {"type", "log"}}), (Names{"all-pdf"}));
  EXPECT_EQ(route(*x, "", MapHeaders{{"format", "pdf"}}), (Names{"all-pdf"}));  // a missing header fails `all`
  EXPECT_EQ(route(*x, "", MapHeaders{{"format", "zip"}, {"type", "report"}}), Names{});
  EXPECT_EQ(route(*x, "", NoHeaders()), Names{});
}

TEST_F(ExchangeTest, HeadersAny) {
  auto x = make(ExchangeType::kHeaders);
  bind(*x, "q", "", {{"x-match", "any"}, {"format", "pdf"}, {"type", "report"}});
  EXPECT_EQ(route(*x, "", MapHeaders{{"type", "report"}}), (Names{"q"}));
  EXPECT_EQ(route(*x, "", MapHeaders{{"format", "pdf"}, {"type", "log"}}), (Names{"q"}));
  EXPECT_EQ(route(*x, "", MapHeaders{{"format", "zip"}, {"type", "log"}}), Names{});
  EXPECT_EQ(route(*x, "", NoHeaders()), Names{});
}

TEST_F(ExchangeTest, HeadersWithNothingToCompare) {
  // RabbitMQ: `all` with no arguments matches every message, `any` none.
  auto x = make(ExchangeType::kHeaders);
  bind(*x, "every", "", {});
  bind(*x, "none", "", {{"x-match", "any"}});
  EXPECT_EQ(route(*x, "", NoHeaders()), (Names{"every"}));
  EXPECT_EQ(route(*x, "", MapHeaders{{"a", "b"}}), (Names{"every"}));
}

TEST_F(ExchangeTest, HeadersXArgumentsCountOnlyWithX) {
  auto x = make(ExchangeType::kHeaders);
  bind(*x, "plain-all", "", {{"x-match", "all"}, {"x-origin", "eu"}, {"kind", "a"}});
  bind(*x, "with-x-all", "", {{"x-match", "all-with-x"}, {"x-origin", "eu"}, {"kind", "a"}});
  bind(*x, "plain-any", "", {{"x-match", "any"}, {"x-origin", "eu"}});
  bind(*x, "with-x-any", "", {{"x-match", "any-with-x"}, {"x-origin", "eu"}});
  EXPECT_EQ(route(*x, "", MapHeaders{{"kind", "a"}}), (Names{"plain-all"}));
  EXPECT_EQ(route(*x, "", MapHeaders{{"kind", "a"}, {"x-origin", "eu"}}),
            (Names{"plain-all", "with-x-all", "with-x-any"}));
  EXPECT_EQ(route(*x, "", MapHeaders{{"x-origin", "us"}}), Names{});
}

TEST_F(ExchangeTest, HeadersRefuseAnUnknownXMatch) {
  auto x = make(ExchangeType::kHeaders);
  const Status o = x->check_binding("", {{"x-match", "some"}});
  EXPECT_FALSE(o.ok());
  EXPECT_EQ(o.error().message, "invalid x-match field value 'some'; expected all, any, all-with-x, or any-with-x");
  // Other types ignore x-match.
  EXPECT_TRUE(make(ExchangeType::kDirect)->check_binding("", {{"x-match", "some"}}).ok());
}

TEST_F(ExchangeTest, HeadersBindingsAreRemoved) {
  auto x = make(ExchangeType::kHeaders);
  const Arguments args{{"a", "1"}};
  bind(*x, "q", "", args);
  bind(*x, "p", "", args);
  EXPECT_TRUE(x->remove(BindingDestination::queue("q"), "", args));
  EXPECT_EQ(route(*x, "", MapHeaders{{"a", "1"}}), (Names{"p"}));
}

}  // namespace
}  // namespace ferry::broker
