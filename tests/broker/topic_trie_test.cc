#include "broker/topic_trie.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ferry::broker {
namespace {

BindingId id(std::uint64_t v) { return BindingId{v}; }

// The ids matching `key`, sorted, checking that none is reported twice.
std::vector<std::uint64_t> match(TopicTrie& trie, std::string_view key) {
  std::vector<BindingId> out;
  trie.match(key, out);
  std::vector<std::uint64_t> ids;
  for (const BindingId b : out) ids.push_back(b.value);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end()) << "an id reported twice for '" << key << "'";
  return ids;
}

using Ids = std::vector<std::uint64_t>;

// RabbitMQ's tutorial five: Q1 binds "*.orange.*", Q2 binds "*.*.rabbit" and
// "lazy.#" (the same id under two patterns: the queue gets a message once).
TEST(TopicTrie, RabbitMqTutorialExamples) {
  TopicTrie t;
  ASSERT_TRUE(t.add("*.orange.*", id(1)).ok());
  ASSERT_TRUE(t.add("*.*.rabbit", id(2)).ok());
  ASSERT_TRUE(t.add("lazy.#", id(2)).ok());
  EXPECT_EQ(match(t, "quick.orange.rabbit"), (Ids{1, 2}));
  EXPECT_EQ(match(t, "lazy.orange.elephant"), (Ids{1, 2}));
  EXPECT_EQ(match(t, "quick.orange.fox"), (Ids{1}));
  EXPECT_EQ(match(t, "lazy.brown.fox"), (Ids{2}));
  EXPECT_EQ(match(t, "lazy.pink.rabbit"), (Ids{2}));  // both of Q2's patterns; once
  EXPECT_EQ(match(t, "quick.brown.fox"), Ids{});
  EXPECT_EQ(match(t, "orange"), Ids{});
  EXPECT_EQ(match(t, "quick.orange.male.rabbit"), Ids{});
  EXPECT_EQ(match(t, "lazy.orange.male.rabbit"), (Ids{2}));
}

// ActiveMQ's wildcard page: PRICE.STOCK.NASDAQ.ORCL and PRICE.STOCK.NYSE.IBM.
TEST(TopicTrie, ActiveMqWildcardExamples) {
  TopicTrie t;
  const std::vector<std::pair<std::string, std::uint64_t>> subscriptions = {
      {"PRICE.>", 1}, {"PRICE.STOCK.>", 2}, {"PRICE.STOCK.NASDAQ.*", 3}, {"PRICE.STOCK.*.IBM", 4}};
  for (const auto& [activemq, n] : subscriptions) {
    std::string pattern;
    ASSERT_TRUE(from_activemq_wildcards(activemq, pattern).ok()) << activemq;
    ASSERT_TRUE(t.add(pattern, id(n)).ok()) << pattern;
  }
  EXPECT_EQ(match(t, "PRICE.STOCK.NASDAQ.ORCL"), (Ids{1, 2, 3}));
  EXPECT_EQ(match(t, "PRICE.STOCK.NYSE.IBM"), (Ids{1, 2, 4}));
  EXPECT_EQ(match(t, "PRICE.STOCK.NASDAQ.IBM"), (Ids{1, 2, 3, 4}));
  EXPECT_EQ(match(t, "PRICE.BOND.X"), (Ids{1}));
  EXPECT_EQ(match(t, "PRICE.STOCK"), (Ids{1, 2}));  // ActiveMQ Classic: "A.>" matches "A"
  EXPECT_EQ(match(t, "PRICE"), (Ids{1}));
  EXPECT_EQ(match(t, "STOCK.PRICE"), Ids{});
}

TEST(TopicTrie, ActiveMqConversion) {
  std::string p = "unchanged";
  ASSERT_TRUE(from_activemq_wildcards("orders.>", p).ok());
  EXPECT_EQ(p, "orders.#");
  ASSERT_TRUE(from_activemq_wildcards(">", p).ok());
  EXPECT_EQ(p, "#");
  ASSERT_TRUE(from_activemq_wildcards("a.*.c", p).ok());
  EXPECT_EQ(p, "a.*.c");
  ASSERT_TRUE(from_activemq_wildcards("a.#", p).ok());  // RabbitMQ's syntax passes through
  EXPECT_EQ(p, "a.#");
  ASSERT_TRUE(from_activemq_wildcards("a>b.c>", p).ok());  // '>' inside a word is a character
  EXPECT_EQ(p, "a>b.c>");
  ASSERT_TRUE(from_activemq_wildcards("", p).ok());
  EXPECT_EQ(p, "");
  p = "unchanged";
  const Status o = from_activemq_wildcards("a.>.b", p);
  EXPECT_FALSE(o.ok());
  EXPECT_NE(o.error().message.find("'>' must be the last word"), std::string::npos) << o.error().message;
  EXPECT_NE(o.error().message.find("a.>.b"), std::string::npos) << o.error().message;
  EXPECT_EQ(p, "unchanged");
}

TEST(TopicTrie, HashMatchesZeroOrMoreWords) {
  TopicTrie t;
  ASSERT_TRUE(t.add("#", id(1)).ok());
  ASSERT_TRUE(t.add("a.#", id(2)).ok());
  ASSERT_TRUE(t.add("#.a", id(3)).ok());
  ASSERT_TRUE(t.add("a.#.b", id(4)).ok());
  ASSERT_TRUE(t.add("#.*", id(5)).ok());
  EXPECT_EQ(match(t, ""), (Ids{1}));  // "" is zero words: only `#` takes it
  EXPECT_EQ(match(t, "a"), (Ids{1, 2, 3, 5}));
  EXPECT_EQ(match(t, "b"), (Ids{1, 5}));
  EXPECT_EQ(match(t, "a.b"), (Ids{1, 2, 4, 5}));
  EXPECT_EQ(match(t, "a.x.b"), (Ids{1, 2, 4, 5}));
  EXPECT_EQ(match(t, "a.x.y.b"), (Ids{1, 2, 4, 5}));
  EXPECT_EQ(match(t, "a.b.c"), (Ids{1, 2, 5}));
  EXPECT_EQ(match(t, "x.y.a"), (Ids{1, 3, 5}));
  EXPECT_EQ(match(t, "a.a"), (Ids{1, 2, 3, 5}));
}

TEST(TopicTrie, RepeatedHashIsOneHash) {
  TopicTrie t;
  ASSERT_TRUE(t.add("a.#.#.b", id(1)).ok());
  EXPECT_EQ(match(t, "a.b"), (Ids{1}));
  EXPECT_EQ(match(t, "a.x.y.b"), (Ids{1}));
  ASSERT_TRUE(t.add("#.#", id(2)).ok());
  EXPECT_EQ(match(t, ""), (Ids{2}));
  // Stored as `#`: removing it under either spelling works.
  EXPECT_TRUE(t.remove("#", id(2)));
  EXPECT_TRUE(t.remove("a.#.b", id(1)));
  EXPECT_EQ(t.node_count(), 1u);
}

TEST(TopicTrie, EmptyWordsAreWords) {
  TopicTrie t;
  ASSERT_TRUE(t.add("", id(1)).ok());
  ASSERT_TRUE(t.add("*", id(2)).ok());
  ASSERT_TRUE(t.add("*.*", id(3)).ok());
  ASSERT_TRUE(t.add("a.", id(4)).ok());
  ASSERT_TRUE(t.add("a..b", id(5)).ok());
  EXPECT_EQ(match(t, ""), (Ids{1}));
  EXPECT_EQ(match(t, "x"), (Ids{2}));
  EXPECT_EQ(match(t, "."), (Ids{3}));  // two empty words
  EXPECT_EQ(match(t, "a."), (Ids{3, 4}));
  EXPECT_EQ(match(t, ".a"), (Ids{3}));
  EXPECT_EQ(match(t, "a..b"), (Ids{5}));
  EXPECT_EQ(match(t, "a.b"), (Ids{3}));
}

TEST(TopicTrie, WildcardsInsideWordsArePlainCharacters) {
  TopicTrie t;
  ASSERT_TRUE(t.add("a*", id(1)).ok());
  ASSERT_TRUE(t.add("#b", id(2)).ok());
  ASSERT_TRUE(t.add("x.*", id(3)).ok());
  EXPECT_EQ(match(t, "a*"), (Ids{1}));
  EXPECT_EQ(match(t, "ab"), Ids{});
  EXPECT_EQ(match(t, "#b"), (Ids{2}));
  EXPECT_EQ(match(t, "x.b"), (Ids{3}));
  EXPECT_EQ(match(t, "x.*"), (Ids{3}));  // a key's `*` is a word like any other
  EXPECT_EQ(match(t, "x.b.c"), Ids{});
}

TEST(TopicTrie, DuplicatesAndRemoval) {
  TopicTrie t;
  ASSERT_TRUE(t.add("a.*", id(1)).ok());
  ASSERT_TRUE(t.add("a.*", id(1)).ok());  // the same pair again: no change
  EXPECT_EQ(t.pattern_count(), 1u);
  ASSERT_TRUE(t.add("a.*", id(2)).ok());
  EXPECT_EQ(t.pattern_count(), 2u);
  EXPECT_EQ(match(t, "a.b"), (Ids{1, 2}));

  EXPECT_FALSE(t.remove("a.*", id(3)));     // not that id
  EXPECT_FALSE(t.remove("a.b", id(1)));     // not that pattern
  EXPECT_FALSE(t.remove("a.*.c", id(1)));   // a path that does not exist
  EXPECT_TRUE(t.remove("a.*", id(1)));
  EXPECT_FALSE(t.remove("a.*", id(1)));     // already gone
  EXPECT_EQ(match(t, "a.b"), (Ids{2}));
  EXPECT_TRUE(t.remove("a.*", id(2)));
  EXPECT_EQ(match(t, "a.b"), Ids{});
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.node_count(), 1u);
}

TEST(TopicTrie, RemovingFreesOnlyNodesThatLeadNowhere) {
  TopicTrie t;
  ASSERT_TRUE(t.add("a.b.c", id(1)).ok());
  ASSERT_TRUE(t.add("a.b", id(2)).ok());
  ASSERT_TRUE(t.add("a.#.d", id(3)).ok());
  EXPECT_EQ(t.node_count(), 6u);  // root, a, b, c, #, d
  EXPECT_TRUE(t.remove("a.b", id(2)));
  EXPECT_EQ(t.node_count(), 6u);  // b still leads to c
  EXPECT_EQ(match(t, "a.b.c"), (Ids{1}));
  EXPECT_TRUE(t.remove("a.b.c", id(1)));
  EXPECT_EQ(t.node_count(), 4u);  // root, a, #, d
  EXPECT_EQ(match(t, "a.b.d"), (Ids{3}));
  EXPECT_TRUE(t.remove("a.#.d", id(3)));
  EXPECT_EQ(t.node_count(), 1u);
}

TEST(TopicTrie, PatternsPastTheBoundsAreRefused) {
  TopicTrie t;
  std::string words255, words256;
  for (int i = 0; i < 255; ++i) words255 += i == 0 ? "w" : ".w";
  words256 = words255 + ".w";
  EXPECT_TRUE(t.add(words255, id(1)).ok());
  const Status too_many = t.add(words256, id(2));
  EXPECT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().message, "topic pattern has 256 words; at most 255 are allowed");

  EXPECT_TRUE(t.add("a." + std::string(255, 'x'), id(3)).ok());
  const Status too_long = t.add("a." + std::string(256, 'x'), id(4));
  EXPECT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().message, "topic pattern has a word of 256 bytes; at most 255 are allowed");
  EXPECT_FALSE(TopicTrie::check_pattern(words256).ok());
  EXPECT_EQ(t.pattern_count(), 2u);
  EXPECT_FALSE(t.remove(words256, id(2)));

  // Keys are not bounded: a key longer than any pattern still matches `#`.
  ASSERT_TRUE(t.add("#", id(5)).ok());
  EXPECT_EQ(match(t, words256 + ".w.w"), (Ids{5}));
  EXPECT_EQ(match(t, words255), (Ids{1, 5}));
}

// Many `#` against a long key: each (node, word) pair is tried once, so this
// ends (a plain backtracking matcher tries exponentially many splits).
TEST(TopicTrie, ManyHashesAgainstALongKeyEnd) {
  TopicTrie t;
  std::string pattern = "#";
  for (int i = 0; i < 40; ++i) pattern += ".a.#";
  pattern += ".b";
  ASSERT_TRUE(t.add(pattern, id(1)).ok());
  std::string key = "a";
  for (int i = 0; i < 250; ++i) key += ".a";
  EXPECT_EQ(match(t, key), Ids{});
  EXPECT_EQ(match(t, key + ".b"), (Ids{1}));
  EXPECT_FALSE(topic_matches(pattern, key));
  EXPECT_TRUE(topic_matches(pattern, key + ".b"));
}

TEST(TopicTrie, ReferenceMatcherAgreesWithTheExamples) {
  EXPECT_TRUE(topic_matches("*.orange.*", "quick.orange.rabbit"));
  EXPECT_FALSE(topic_matches("*.orange.*", "quick.orange.male.rabbit"));
  EXPECT_TRUE(topic_matches("lazy.#", "lazy"));
  EXPECT_TRUE(topic_matches("#", ""));
  EXPECT_FALSE(topic_matches("*", ""));
  EXPECT_TRUE(topic_matches("", ""));
  EXPECT_TRUE(topic_matches("a.#.b", "a.b"));
  EXPECT_FALSE(topic_matches("a.#.b", "a.b.c"));
}

// "#.#" is stored as "#": the test's own bookkeeping must see them as one.
std::string without_repeated_hash(std::string p) {
  for (std::size_t at; (at = p.find("#.#")) != std::string::npos;) {
    const bool whole = (at == 0 || p[at - 1] == '.') && (at + 3 == p.size() || p[at + 3] == '.');
    if (!whole) break;
    p.erase(at, 2);
  }
  return p;
}

// Thousands of random patterns and keys over a small alphabet (so that they
// collide often), checked against the reference matcher, through adds,
// removals of half of them and removal of the rest.
TEST(TopicTrie, RandomPatternsAgreeWithTheReferenceMatcher) {
  std::mt19937 rng(12345);
  const std::vector<std::string> pattern_words = {"a", "b", "c", "", "*", "#", "*", "#"};
  const std::vector<std::string> key_words = {"a", "b", "c", ""};
  const auto random_string = [&](const std::vector<std::string>& alphabet, int max_words) {
    const int n = std::uniform_int_distribution<int>(0, max_words)(rng);
    std::string s;
    for (int i = 0; i < n; ++i) {
      if (i > 0) s += '.';
      s += alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(rng)];
    }
    return s;
  };

  TopicTrie t;
  std::vector<std::pair<std::string, std::uint64_t>> patterns;
  std::set<std::pair<std::string, std::uint64_t>> seen;
  for (std::uint64_t i = 0; i < 3000; ++i) {
    std::string p = without_repeated_hash(random_string(pattern_words, 6));
    // Some ids under several patterns, some patterns under several ids.
    const std::uint64_t n = i % 7 == 0 ? i / 2 : i;
    if (!seen.emplace(p, n).second) continue;
    ASSERT_TRUE(t.add(p, id(n)).ok());
    patterns.emplace_back(std::move(p), n);
  }
  EXPECT_EQ(t.pattern_count(), patterns.size());
  std::vector<std::string> keys;
  for (int i = 0; i < 2000; ++i) keys.push_back(random_string(key_words, 7));

  const auto check_all = [&] {
    for (const std::string& key : keys) {
      std::set<std::uint64_t> want;
      for (const auto& [p, n] : patterns) {
        if (topic_matches(p, key)) want.insert(n);
      }
      const Ids got = match(t, key);
      ASSERT_EQ(got, Ids(want.begin(), want.end())) << "key '" << key << "'";
    }
  };
  check_all();

  std::shuffle(patterns.begin(), patterns.end(), rng);
  const std::size_t half = patterns.size() / 2;
  for (std::size_t i = half; i < patterns.size(); ++i) {
    ASSERT_TRUE(t.remove(patterns[i].first, id(patterns[i].second))) << patterns[i].first;
  }
  patterns.resize(half);
  check_all();

  for (const auto& [p, n] : patterns) ASSERT_TRUE(t.remove(p, id(n))) << p;
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.node_count(), 1u);
  for (const std::string& key : keys) EXPECT_EQ(match(t, key), Ids{});
}

}  // namespace
}  // namespace ferry::broker
