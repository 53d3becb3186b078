#include "session/subscriptions.h"

#include <algorithm>
#include <charconv>

#include "common/assert.h"

namespace ferry::session {

using broker::AckMode;

namespace {

template <typename T>
std::optional<T> parse_number(std::string_view s) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

Subscription& Subscriptions::add(std::unique_ptr<Subscription> s) {
  Subscription& ref = *s;
  by_no_[s->no] = s.get();
  by_id_.emplace(s->id, std::move(s));
  return ref;
}

Subscription* Subscriptions::find(SubscriptionNo no) const {
  auto it = by_no_.find(no);
  return it == by_no_.end() ? nullptr : it->second;
}

Subscription* Subscriptions::find(const std::string& id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second.get();
}

std::unique_ptr<Subscription> Subscriptions::remove(std::string_view id) {
  auto it = by_id_.find(std::string(id));
  if (it == by_id_.end()) return nullptr;
  std::unique_ptr<Subscription> s = std::move(it->second);
  by_id_.erase(it);
  by_no_.erase(s->no);
  return s;
}

void Subscriptions::forget(SubscriptionNo no) {
  auto it = by_no_.find(no);
  if (it == by_no_.end()) return;
  std::string id = it->second->id;
  by_no_.erase(it);
  by_id_.erase(id);
}

std::vector<std::unique_ptr<Subscription>> Subscriptions::take_all() {
  std::vector<std::unique_ptr<Subscription>> all;
  all.reserve(by_id_.size());
  for (auto& [id, s] : by_id_) all.push_back(std::move(s));
  by_id_.clear();
  by_no_.clear();
  browsers_.clear();
  return all;
}

namespace {

// `id` (1.2) and `ack` carry our ack tag "<subscription-no>-<seq>".
struct Tag {
  SubscriptionNo no;
  std::uint64_t seq = 0;
};
std::optional<Tag> tag_of(const stomp::Frame& f, std::string_view header) {
  auto tag = f.get(header);
  if (!tag) return std::nullopt;
  auto dash = tag->find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto no = parse_number<std::uint32_t>(tag->substr(0, dash));
  auto seq = parse_number<std::uint64_t>(tag->substr(dash + 1));
  if (!no || !seq) return std::nullopt;
  return Tag{SubscriptionNo(*no), *seq};
}

}  // namespace

std::optional<Subscriptions::AckTarget> Subscriptions::resolve_ack(const stomp::Frame& f) const {
  for (std::string_view name : {"id", "ack"}) {
    auto t = tag_of(f, name);
    if (!t) continue;
    Subscription* s = find(t->no);
    if (s == nullptr) continue;
    auto& held = s->held;
    auto pos = std::lower_bound(held.begin(), held.end(), t->seq,
                                [](const Held& h, std::uint64_t seq) { return h.seq.value < seq; });
    if (pos != held.end() && pos->seq.value == t->seq)
      return AckTarget{s, static_cast<std::size_t>(pos - held.begin())};
  }
  if (auto mid = f.get("message-id")) {
    auto only = f.get("subscription");
    for (const auto& [no, s] : by_no_) {
      if (only && s->id != *only) continue;
      for (std::size_t i = 0; i < s->held.size(); ++i)
        if (s->held[i].message->id_text == *mid) return AckTarget{s, i};
    }
  }
  return std::nullopt;
}

bool Subscriptions::covered_by_cumulative_ack(const stomp::Frame& f) {
  for (std::string_view name : {"id", "ack"}) {
    auto t = tag_of(f, name);
    if (!t) continue;
    Subscription* s = find(t->no);
    if (s == nullptr) continue;
    return s->mode == AckMode::kClient && t->seq <= s->acked_through.value;
  }
  // 1.0/1.1 clients name the message by message-id: look it up among the ids
  // the subscription's cumulative ACKs took along (each only once).
  auto mid = f.get("message-id");
  if (!mid) return false;
  auto only = f.get("subscription");
  for (auto& [no, s] : by_no_) {
    if (s->mode != AckMode::kClient || (only && s->id != *only)) continue;
    if (s->covered_ids.take(*mid)) return true;
  }
  return false;
}

// client mode is cumulative: "the acknowledgment operates on the message
// specified in the ACK frame and all messages sent to the subscription before
// the ACK'ed message" (STOMP 1.2). Sent before, i.e. written before: not the
// same as an earlier sequence, because a journaled delivery waits for its
// delivery count to be on disk and can be written after a later
// non-persistent one. Taking it along would ack a message the client may
// never have read (and lose it if the client then dies).
void Subscriptions::take_cumulative(Subscription& s, std::size_t index, bool ack, broker::DeliverySeqs& seqs) {
  const std::uint64_t named_written = s.held[index].written;
  const DeliverySeq named = s.held[index].seq;
  if (ack && named.value > s.acked_through.value) s.acked_through = named;
  std::size_t keep = 0;
  for (std::size_t i = 0; i < s.held.size(); ++i) {
    Held& h = s.held[i];
    if (h.written <= named_written) {
      seqs.push_back(h.seq);
      if (ack && h.seq.value != named.value) s.covered_ids.remember(h.message->id_text);
      continue;
    }
    if (keep != i) s.held[keep] = std::move(h);
    ++keep;
  }
  s.held.resize(keep);
}

void Subscriptions::written(Subscription& s, broker::Delivery d) {
  if (s.mode == AckMode::kAuto) {
    ++s.queued_messages;
    s.queued_bytes += d.message->body.size();
    if (s.queued_messages == 1) credit_dirty_.push_back(s.no);
    return;
  }
  // Deliveries can arrive out of sequence (a persistent one waits for its
  // delivery count to be on disk); keep `held` sorted by sequence.
  auto pos = s.held.end();
  while (pos != s.held.begin() && std::prev(pos)->seq.value > d.seq.value) --pos;
  s.held.insert(pos, Held{d.seq, ++s.written, std::move(d.message)});
}

void Subscriptions::flush_started() {
  for (SubscriptionNo no : credit_dirty_) {
    Subscription* s = find(no);
    if (s == nullptr) continue;
    if (s->credit_messages == 0) credit_writing_.push_back(no);
    s->credit_messages += s->queued_messages;
    s->credit_bytes += s->queued_bytes;
    s->queued_messages = 0;
    s->queued_bytes = 0;
  }
  credit_dirty_.clear();
}

std::size_t Subscriptions::unacked_count() const {
  std::size_t n = 0;
  for (const auto& [id, s] : by_id_) n += s->held.size();
  return n;
}

std::vector<net::SubscriptionInfo> Subscriptions::describe() const {
  std::vector<net::SubscriptionInfo> out;
  for (const auto& [id, s] : by_id_) {
    net::SubscriptionInfo i;
    i.id = id;
    i.destination = s->destination.to_string();
    i.ack = s->mode == AckMode::kAuto     ? "auto"
            : s->mode == AckMode::kClient ? "client"
                                          : "client-individual";
    i.prefetch = s->prefetch;
    i.unacked = s->held.size();
    i.durable = s->durable;
    i.name = s->durable_name;
    i.number = s->no.value;
    out.push_back(std::move(i));
  }
  return out;
}

}  // namespace ferry::session
