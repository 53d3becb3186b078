#include "broker/topic_patterns.h"

#include "common/assert.h"

namespace ferry::broker {

bool TopicPatterns::is_pattern(std::string_view name) {
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    const std::string_view word = name.substr(start, dot - start);
    if (word == "*" || word == "#" || word == ">") return true;
    start = dot + 1;
  }
  return false;
}

Status TopicPatterns::check(std::string_view name) {
  std::string pattern;
  if (Status s = from_activemq_wildcards(name, pattern); !s) return s;
  return TopicTrie::check_pattern(pattern);
}

void TopicPatterns::add(const Destination& topic) {
  auto& vhost = by_vhost_[topic.vhost];
  if (!vhost) vhost = std::make_unique<Vhost>();
  auto [it, inserted] = vhost->by_name.try_emplace(topic.name);
  Pattern& p = it->second;
  if (inserted) {
    p.topic = std::make_shared<const Destination>(topic);
    const Status converted = from_activemq_wildcards(topic.name, p.trie_pattern);
    FERRY_ASSERT(converted.ok());  // checked when subscribed
    p.id = BindingId(next_id_++);
    const Status added = vhost->trie.add(p.trie_pattern, p.id);
    FERRY_ASSERT(added.ok());
    vhost->by_id[p.id] = &p;
  }
  ++p.count;
}

void TopicPatterns::remove(const Destination& topic) {
  auto v = by_vhost_.find(topic.vhost);
  if (v == by_vhost_.end()) return;
  Vhost& vhost = *v->second;
  auto it = vhost.by_name.find(topic.name);
  if (it == vhost.by_name.end()) return;
  Pattern& p = it->second;
  if (--p.count > 0) return;
  vhost.trie.remove(p.trie_pattern, p.id);
  vhost.by_id.erase(p.id);
  vhost.by_name.erase(it);
  if (vhost.by_name.empty()) by_vhost_.erase(v);
}

void TopicPatterns::match(const Destination& topic, std::vector<std::shared_ptr<const Destination>>& out) {
  auto v = by_vhost_.find(topic.vhost);
  if (v == by_vhost_.end()) return;
  Vhost& vhost = *v->second;
  vhost.trie.match(topic.name, ids_);
  for (BindingId id : ids_) {
    auto it = vhost.by_id.find(id);
    if (it != vhost.by_id.end()) out.push_back(it->second->topic);
  }
}

}  // namespace ferry::broker
