#include "broker/topic_trie.h"

#include <algorithm>

#include "common/assert.h"

namespace ferry::broker {

namespace {

// RabbitMQ's split_topic_key: "" has no words; otherwise every '.' separates
// two words, which may be empty.
void split_words(std::string_view s, std::vector<std::string_view>& words) {
  words.clear();
  if (s.empty()) return;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) {
      words.push_back(s.substr(start));
      return;
    }
    words.push_back(s.substr(start, dot - start));
    start = dot + 1;
  }
}

// Splits and checks a pattern, dropping a `#` that follows a `#` (`#.#`
// matches exactly what `#` matches, and one `#` node per run keeps the
// matcher's bound on repeated work simple).
Status parse_pattern(std::string_view pattern, std::vector<std::string_view>& words) {
  split_words(pattern, words);
  if (words.size() > TopicTrie::kMaxWords) {
    return failure("topic pattern has " + std::to_string(words.size()) + " words; at most " +
                            std::to_string(TopicTrie::kMaxWords) + " are allowed");
  }
  for (const std::string_view w : words) {
    if (w.size() > TopicTrie::kMaxWordBytes) {
      return failure("topic pattern has a word of " + std::to_string(w.size()) + " bytes; at most " +
                              std::to_string(TopicTrie::kMaxWordBytes) + " are allowed");
    }
  }
  const auto last = std::unique(words.begin(), words.end(),
                                [](std::string_view a, std::string_view b) { return a == "#" && b == "#"; });
  words.erase(last, words.end());
  return Status{};
}

}  // namespace

TopicTrie::TopicTrie() : root_(std::make_unique<Node>()) {}
TopicTrie::~TopicTrie() = default;

Status TopicTrie::check_pattern(std::string_view pattern) {
  std::vector<std::string_view> words;
  return parse_pattern(pattern, words);
}

Status TopicTrie::add(std::string_view pattern, BindingId id) {
  std::vector<std::string_view> words;
  if (Status o = parse_pattern(pattern, words); !o) return o;
  Node* node = root_.get();
  for (const std::string_view w : words) {
    std::unique_ptr<Node>* child;
    if (w == "#") {
      child = &node->hash;
    } else if (w == "*") {
      child = &node->star;
    } else {
      child = &node->words.try_emplace(std::string(w)).first->second;
    }
    if (!*child) {
      *child = std::make_unique<Node>();
      ++node_count_;
    }
    node = child->get();
  }
  if (std::find(node->ids.begin(), node->ids.end(), id) != node->ids.end()) return Status{};
  node->ids.push_back(id);
  ++pattern_count_;
  return Status{};
}

bool TopicTrie::remove(std::string_view pattern, BindingId id) {
  std::vector<std::string_view> words;
  if (!parse_pattern(pattern, words).ok()) return false;  // never added
  // path[k] is the node reached after words[0..k); path[0] is the root.
  std::vector<Node*> path;
  path.reserve(words.size() + 1);
  path.push_back(root_.get());
  for (const std::string_view w : words) {
    Node* node = path.back();
    Node* next;
    if (w == "#") {
      next = node->hash.get();
    } else if (w == "*") {
      next = node->star.get();
    } else {
      const auto it = node->words.find(w);
      next = it == node->words.end() ? nullptr : it->second.get();
    }
    if (next == nullptr) return false;
    path.push_back(next);
  }
  std::vector<BindingId>& ids = path.back()->ids;
  const auto it = std::find(ids.begin(), ids.end(), id);
  if (it == ids.end()) return false;
  *it = ids.back();
  ids.pop_back();
  if (ids.empty()) ids.shrink_to_fit();  // a node may outlive its last id (it still has children)
  --pattern_count_;
  // Free the nodes that now lead nowhere, deepest first; never the root.
  for (std::size_t k = words.size(); k > 0 && path[k]->leaf(); --k) {
    Node* parent = path[k - 1];
    const std::string_view w = words[k - 1];
    if (w == "#") {
      parent->hash.reset();
    } else if (w == "*") {
      parent->star.reset();
    } else {
      parent->words.erase(parent->words.find(w));
    }
    --node_count_;
  }
  return true;
}

void TopicTrie::match(std::string_view routing_key, std::vector<BindingId>& out) {
  out.clear();
  split_words(routing_key, key_words_);
  ++epoch_;
  out_ = &out;
  emitting_nodes_ = 0;
  visit(*root_, 0);
  out_ = nullptr;
  // Each node reports its ids once per match; only an id stored under two
  // patterns can appear twice, and only when more than one node reported.
  if (emitting_nodes_ > 1) {
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }
}

// `node` has been reached with the key's words [0, i) consumed. Recursion
// depth is bounded by the trie's depth (kMaxWords + 1): every call goes one
// node down.
void TopicTrie::visit(Node& node, std::size_t i) {
  const std::size_t n = key_words_.size();
  if (i == n) {
    emit(node);
    if (node.hash) visit_hash(*node.hash, n);  // `#` matching zero words at the end
    return;
  }
  if (!node.words.empty()) {
    const auto it = node.words.find(key_words_[i]);
    if (it != node.words.end()) visit(*it->second, i + 1);
  }
  if (node.star) visit(*node.star, i + 1);
  if (node.hash) visit_hash(*node.hash, i);
}

// A `#` node entered at word i may swallow words [i, j) for any j in [i, n],
// after which its children carry on at j. Entering at i tries every j >= i,
// so a later entry at i' >= i (another path through an earlier `#`) has
// nothing new to try, and an entry at i' < i only needs j in [i', i). That
// keeps each (node, word index) pair visited at most once per match. (The
// depth-first walk happens to enter a node at rising indices, so today the
// second case does not arise; the general form keeps the bound if the walk
// order ever changes.)
void TopicTrie::visit_hash(Node& hash, std::size_t i) {
  FERRY_ASSERT(!hash.hash);  // `#.#` is stored as `#`
  std::size_t end = key_words_.size();  // inclusive
  if (hash.tried_epoch == epoch_) {
    if (i >= hash.tried_from) return;
    end = hash.tried_from - 1;
  } else {
    hash.tried_epoch = epoch_;
  }
  hash.tried_from = static_cast<std::uint32_t>(i);
  for (std::size_t j = i; j <= end; ++j) visit(hash, j);
}

void TopicTrie::emit(Node& node) {
  if (node.ids.empty() || node.emitted_epoch == epoch_) return;
  node.emitted_epoch = epoch_;
  ++emitting_nodes_;
  out_->insert(out_->end(), node.ids.begin(), node.ids.end());
}

bool topic_matches(std::string_view pattern, std::string_view routing_key) {
  std::vector<std::string_view> p, k;
  split_words(pattern, p);
  split_words(routing_key, k);
  // reach[j]: the pattern's words so far match the key's first j words.
  std::vector<char> reach(k.size() + 1, 0), next(k.size() + 1, 0);
  reach[0] = 1;
  for (const std::string_view w : p) {
    if (w == "#") {
      char any = 0;
      for (std::size_t j = 0; j <= k.size(); ++j) next[j] = any = static_cast<char>(any | reach[j]);
    } else {
      next[0] = 0;
      for (std::size_t j = 1; j <= k.size(); ++j) next[j] = reach[j - 1] && (w == "*" || w == k[j - 1]);
    }
    reach.swap(next);
  }
  return reach[k.size()] != 0;
}

Status from_activemq_wildcards(std::string_view activemq_pattern, std::string& pattern) {
  std::vector<std::string_view> words;
  split_words(activemq_pattern, words);
  std::string converted;
  converted.reserve(activemq_pattern.size());
  for (std::size_t k = 0; k < words.size(); ++k) {
    if (k > 0) converted += '.';
    if (words[k] != ">") {
      converted += words[k];
    } else if (k + 1 == words.size()) {
      converted += '#';
    } else {
      return failure("'>' must be the last word of a wildcard destination: '" +
                              std::string(activemq_pattern) + "'");
    }
  }
  pattern = std::move(converted);
  return Status{};
}

}  // namespace ferry::broker
