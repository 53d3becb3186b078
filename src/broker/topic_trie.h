#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/binding_id.h"
#include "broker/delivery.h"
#include "common/result.h"
#include "common/string_hash.h"

// The binding patterns of one topic exchange, as RabbitMQ's topic exchange
// keeps them: a trie keyed by words, so that routing a key costs the words of
// the key times the wildcard branches it meets, not the number of bindings.
//
// Words are separated by '.' and split exactly as RabbitMQ splits them
// (rabbit_db_topic_exchange:split_topic_key): "" is zero words, "a." is the
// two words "a" and "", ".." is three empty words. Empty words are ordinary
// words. In a pattern, a whole word `*` matches exactly one word and a whole
// word `#` zero or more words; `*` or `#` inside a longer word ("a*", "#b")
// is a plain character. So:
//   "#"     matches every key, "" included
//   "a.#"   matches "a", "a.b", "a.b.c"        (not "b", not "")
//   "a.#.b" matches "a.b", "a.x.b", "a.x.y.b"  (not "a.b.c")
//   "*"     matches "a" and "b"; not "" (zero words), not "a.b"
//   "*.*"   matches "a.b" and "." (two empty words)
//   ""      matches only the key ""
//
// Bounds (a pattern past them is refused by add(), with a reason): at most
// kMaxWords words and kMaxWordBytes bytes in any word, i.e. what an AMQP
// short string can hold. Keys being routed are not bounded here; matching a
// key of n words costs at most (trie nodes on its paths) x (n + 1) steps, even
// with many `#`, because a `#` node remembers how far it was already tried.
//
// Owned by one shard; not thread-safe. match() is not const (it stamps the
// nodes it visits) and allocates nothing once its scratch space has grown to
// the longest key seen.
namespace ferry::broker {

class TopicTrie {
 public:
  static constexpr std::size_t kMaxWords = 255;
  static constexpr std::size_t kMaxWordBytes = 255;

  TopicTrie();
  ~TopicTrie();
  TopicTrie(const TopicTrie&) = delete;
  TopicTrie& operator=(const TopicTrie&) = delete;

  // Why `pattern` cannot be a binding pattern (too many words, a word too
  // long), or success. add() and remove() check the same.
  static Status check_pattern(std::string_view pattern);

  // Adds the pair (pattern, id). Adding a pair that is already there is a
  // success that changes nothing. One id may be added under several patterns
  // (it is still reported once per match). `#.#` is the same pattern as `#`.
  Status add(std::string_view pattern, BindingId id);

  // Removes the pair; false if it was not there. Frees every node that no
  // longer leads to a pattern, so a trie emptied of its patterns is back to
  // its root alone (node_count() == 1).
  bool remove(std::string_view pattern, BindingId id);

  // Replaces `out` with the ids whose pattern matches `routing_key`, each
  // once, in no particular order.
  void match(std::string_view routing_key, std::vector<BindingId>& out);

  std::size_t pattern_count() const { return pattern_count_; }  // (pattern, id) pairs
  std::size_t node_count() const { return node_count_; }
  bool empty() const { return pattern_count_ == 0; }

 private:
  struct Node;
  using Children = std::unordered_map<std::string, std::unique_ptr<Node>, StringHash, std::equal_to<>>;
  struct Node {
    Children words;              // literal words
    std::unique_ptr<Node> star;  // `*`
    std::unique_ptr<Node> hash;  // `#` (never two in a row: `#.#` is stored as `#`)
    std::vector<BindingId> ids;  // patterns that end here
    // Stamps of the current match(): emitted_ keeps a node's ids from being
    // reported twice; for a `#` node, tried_from_ is the smallest word index
    // it was entered at (entering again at that index or later adds nothing).
    std::uint64_t emitted_epoch = 0;
    std::uint64_t tried_epoch = 0;
    std::uint32_t tried_from = 0;
    bool leaf() const { return words.empty() && !star && !hash && ids.empty(); }
  };

  void visit(Node& node, std::size_t i);
  void visit_hash(Node& hash, std::size_t i);
  void emit(Node& node);

  std::unique_ptr<Node> root_;
  std::size_t pattern_count_ = 0;
  std::size_t node_count_ = 1;
  // match() state, kept between calls so that matching allocates nothing.
  std::uint64_t epoch_ = 0;
  std::vector<std::string_view> key_words_;
  std::vector<BindingId>* out_ = nullptr;
  std::size_t emitting_nodes_ = 0;
};

// Whether one pattern matches one key, by the same rules as TopicTrie, with
// a table over (pattern words x key words) instead of a trie. The reference
// the trie is tested against and the linear peer of the routing benchmark;
// it allocates, so it is not for the hot path.
bool topic_matches(std::string_view pattern, std::string_view routing_key);

// ActiveMQ's wildcard syntax for topic names, turned into a binding pattern of
// the trie above. ActiveMQ separates words with '.', matches one word with `*`
// and the rest of the name with `>`. `>` matches zero or more trailing words:
// ActiveMQ Classic's PrefixDestinationFilter lets "A.>" match "A" as well as
// "A.B" and "A.B.C", so `>` becomes `#`. `>` anywhere but as the last word is
// refused (ActiveMQ documents that nothing may follow it, and a pattern that
// silently means something else receives nothing). `*` and `#` keep their
// meaning, so `/topic/` accepts what a user of either broker types. A `>`
// inside a longer word ("a>b") is a plain character.
// On success `pattern` holds the trie's syntax; on failure it is unchanged.
Status from_activemq_wildcards(std::string_view activemq_pattern, std::string& pattern);

}  // namespace ferry::broker
