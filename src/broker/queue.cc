#include "broker/queue.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "broker/policy.h"
#include "common/assert.h"

namespace ferry::broker {

Queue::Queue(Destination destination, QueueSettings settings, QueueHost& host)
    : destination_(std::move(destination)),
      name_(destination_.to_string()),
      settings_(settings),
      journal_key_ref_(std::make_shared<const std::string>(settings_.journal_key)),
      host_(host),
      grouping_(destination_.kind == DestinationKind::kQueue),
      totals_(host.totals()) {}

const QueueArguments& Queue::arguments() const {
  static const QueueArguments kNone;
  return extras_ ? extras_->arguments : kNone;
}

const QueueArguments& Queue::declared_arguments() const {
  static const QueueArguments kNone;
  return extras_ ? extras_->declared : kNone;
}

const std::string& Queue::policy_name() const {
  static const std::string kNone;
  return extras_ ? extras_->policy : kNone;
}

const QueueArguments& Queue::policy_definition() const {
  static const QueueArguments kNone;
  return extras_ ? extras_->policy_definition : kNone;
}

void Queue::set_arguments(QueueArguments a) {
  if (!a.empty() || extras_) {
    extras().declared = std::move(a);
    extras_->last_used_ms = host_.now_ms();
  }
  apply_arguments();
}

void Queue::set_policy(std::string name, QueueArguments definition) {
  if (!extras_ && name.empty()) return;  // none before, none now
  Extras& e = extras();
  if (e.policy == name && e.policy_definition == definition) return;
  // A queue that had no arguments starts its x-expires clock now.
  if (e.policy.empty() && e.declared.empty()) e.last_used_ms = host_.now_ms();
  e.policy = std::move(name);
  e.policy_definition = std::move(definition);
  apply_arguments();
}

void Queue::apply_arguments() {
  if (extras_) extras_->arguments = effective_arguments(extras_->declared, extras_->policy_definition);
  choose_exclusive();  // x-single-active-consumer
  drop_head_to_fit();
  dispatch();
}

bool Queue::over_limit(std::uint64_t body_bytes, std::size_t pending, std::uint64_t pending_bytes) const {
  if (!extras_) return false;
  const QueueArguments& a = extras_->arguments;
  if (a.max_length && depth() + pending >= *a.max_length) return true;
  return a.max_length_bytes && ready_.bytes() + pending_bytes + body_bytes > *a.max_length_bytes;
}

void Queue::drop_head_to_fit() {
  if (!extras_) return;
  const QueueArguments& a = extras_->arguments;
  if (!a.bounded() || a.overflow_mode() != Overflow::kDropHead) return;
  const std::size_t ready_before = ready_.size();
  // Messages paged out to the journal count by number; their bytes are not
  // known without reading them (a queue with x-max-length-bytes is kept
  // in memory by its host, see ShardBroker::enqueue_journaled).
  while ((a.max_length && depth() > *a.max_length) ||
         (a.max_length_bytes && ready_.bytes() > *a.max_length_bytes)) {
    if (ready_.empty() && (paged_.empty() || !refill())) break;
    if (ready_.empty()) continue;
    QueueEntry e = ready_.pop();
    if (a.dead_letters()) {
      to_dead_letter(e, "maxlen");
    } else {
      ++extras().discarded;
      drop(e);
    }
  }
  if (ready_.size() < ready_before) host_.space_freed(*this);
}

void Queue::expired(const QueueEntry& e) {
  bump(&MessageCounters::expired);
  // RabbitMQ: an expired message goes to the dead-letter exchange, if the
  // queue has one (reason `expired`); without one it is dropped, as before.
  if (arguments().dead_letters()) {
    to_dead_letter(e, "expired");
    return;
  }
  drop(e);
}

// Every counter goes to the queue's and the shard's totals.
void Queue::bump(std::uint64_t MessageCounters::*field) {
  ++(counters_.*field);
  if (totals_ != nullptr) ++(totals_->*field);
}

Queue::~Queue() {
  // Whatever is still here leaves memory accounting with the queue.
  std::int64_t bytes = 0;
  ready_.for_each([&](const QueueEntry& e) { bytes += e.message->footprint(); });
  for (auto& c : consumers_)
    for (auto& [seq, h] : c->held) bytes += h.entry.message->footprint();
  for (const QueueEntry& e : orphans_) bytes += e.message->footprint();
  if (ScheduledEntries* s = scheduled()) {
    s->for_each([&](const QueueEntry& e) { bytes += e.message->footprint(); });
    if (!s->empty()) host_.scheduled_changed(-static_cast<std::int64_t>(s->size()));
  }
  bytes += paged_charged_;
  if (groups_)
    for (const auto& [name, g] : groups_->by_name) bytes += static_cast<std::int64_t>(group_cost(name));
  if (bytes != 0) host_.memory_changed(-bytes);
}

void Queue::enqueue(MessageRef m, std::uint64_t segment, std::uint32_t deliveries,
                    std::uint64_t stamp) {
  host_.memory_changed(static_cast<std::int64_t>(m->footprint()));
  bump(&MessageCounters::enqueued);
  if (m->deliver_at_ms != 0 && !m->due_at(host_.now_ms())) {
    hold_scheduled(QueueEntry{std::move(m), 0, deliveries, segment, stamp});
    return;
  }
  note_expiry(*m);
  ready_.push(QueueEntry{std::move(m), next_order_++, deliveries, segment, stamp});
  dispatch();
  if (extras_) drop_head_to_fit();  // only waiting messages count: after dispatch
}

void Queue::add_consumer(const ConsumerKey& key, AckMode mode, Window window, ConsumerOptions options) {
  FERRY_ASSERT(find(key) == nullptr);
  FERRY_ASSERT(window.messages > 0);
  auto c = std::make_unique<Consumer>();
  c->key = key;
  c->mode = mode;
  c->window = window;
  if (options.selector != nullptr) ++selective_;
  c->selector = std::move(options.selector);
  c->exclusive = options.exclusive;
  consumers_.push_back(std::move(c));
  touch(host_.now_ms());
  choose_exclusive();
  scanned_ = false;  // a consumer with room: every waiting message is worth a look
  dispatch();
}

bool Queue::has_consumer(const ConsumerKey& key) const {
  return std::any_of(consumers_.begin(), consumers_.end(),
                     [&](const auto& c) { return c->key == key; });
}

Queue::Consumer* Queue::find(const ConsumerKey& key) {
  for (auto& c : consumers_)
    if (c->key == key) return c.get();
  return nullptr;
}

void Queue::remove_consumer(const ConsumerKey& key) {
  auto it = std::find_if(consumers_.begin(), consumers_.end(),
                         [&](const auto& c) { return c->key == key; });
  if (it == consumers_.end()) return;
  std::unique_ptr<Consumer> gone = std::move(*it);
  if (gone->selector != nullptr) --selective_;
  std::size_t index = static_cast<std::size_t>(it - consumers_.begin());
  consumers_.erase(it);
  touch(host_.now_ms());
  if (next_consumer_ > index) --next_consumer_;
  if (next_consumer_ >= consumers_.size()) next_consumer_ = 0;
  choose_exclusive();
  // Its groups pick a consumer again; messages that waited for it may go now.
  forget_groups_of(gone.get());
  scanned_ = false;
  for (auto& [seq, h] : gone->held) {
    // A delivery whose ACK is being written waits for the outcome: given
    // back now, it could be delivered again although the ACK becomes durable.
    if (h.settling) orphans_.push_back(std::move(h.entry));
    else give_back(std::move(h.entry), true);
  }
  dispatch();
}

void Queue::settle(const ConsumerKey& key, std::span<const DeliverySeq> seqs, SettleAction action) {
  Consumer* c = find(key);
  if (c == nullptr) return;
  const std::size_t ready_before = ready_.size();
  for (DeliverySeq seq : seqs) {
    auto it = c->held.find(seq.value);
    if (it == c->held.end()) continue;
    Held& h = it->second;
    if (h.settling) continue;  // finish_settle decides
    if (action == SettleAction::kRelease) {
      if (!h.released) {
        forget_credit(*c, h);
        h.released = true;
      }
      continue;
    }
    if (!h.released) forget_credit(*c, h);
    QueueEntry entry = std::move(h.entry);
    c->held.erase(it);
    switch (action) {
      case SettleAction::kAck:
        bump(&MessageCounters::acked);
        drop(entry);
        break;
      case SettleAction::kRequeue: give_back(std::move(entry), true); break;
      case SettleAction::kDeadLetter: to_dead_letter(std::move(entry), "rejected"); break;
      case SettleAction::kRelease: break;
    }
  }
  dispatch();
  if (ready_.size() < ready_before) host_.space_freed(*this);
}

const QueueEntry* Queue::begin_settle(const ConsumerKey& key, DeliverySeq seq) {
  Consumer* c = find(key);
  if (c == nullptr) return nullptr;
  auto it = c->held.find(seq.value);
  if (it == c->held.end() || it->second.settling) return nullptr;
  Held& h = it->second;
  h.settling = true;
  if (!h.released) {
    forget_credit(*c, h);
    h.released = true;
    h.released_by_settle = true;
    dispatch();  // map nodes are stable: &h.entry stays valid
  }
  return &h.entry;
}

void Queue::finish_settle(const ConsumerKey& key, DeliverySeq seq, MessageId id, SettleAction action,
                          bool durable) {
  FERRY_ASSERT(action == SettleAction::kAck || action == SettleAction::kDeadLetter);
  std::optional<QueueEntry> entry;
  bool orphan = false;
  Consumer* c = find(key);
  if (c != nullptr) {
    auto it = c->held.find(seq.value);
    if (it != c->held.end() && it->second.settling && it->second.entry.message->id == id) {
      Held& h = it->second;
      if (!durable) {
        // As if the ACK had never arrived.
        h.settling = false;
        if (h.released_by_settle) {
          h.released = false;
          h.released_by_settle = false;
          ++c->in_flight;
          c->in_flight_bytes += h.bytes;
        }
        return;
      }
      entry = std::move(h.entry);
      c->held.erase(it);
    }
  }
  if (!entry) {
    auto it = std::find_if(orphans_.begin(), orphans_.end(),
                           [&](const QueueEntry& e) { return e.message->id == id; });
    if (it == orphans_.end()) return;
    entry = std::move(*it);
    orphans_.erase(it);
    orphan = true;
  }
  if (!durable) {
    FERRY_ASSERT(orphan);
    give_back(std::move(*entry));
    dispatch();
    return;
  }
  uncharge(*entry);
  if (action == SettleAction::kAck) bump(&MessageCounters::acked);
  else if (discards_dead_letters()) ++extras().discarded;
  else bump(&MessageCounters::dead_lettered);
  host_.settled(*this, *entry);
  dispatch();
}

std::size_t Queue::settling_count() const {
  std::size_t n = orphans_.size();
  for (const auto& c : consumers_)
    for (const auto& [seq, h] : c->held) n += h.settling ? 1 : 0;
  return n;
}

void Queue::credit(const ConsumerKey& key, std::uint32_t messages, std::uint64_t bytes) {
  Consumer* c = find(key);
  if (c == nullptr) return;
  c->in_flight -= std::min(c->in_flight, messages);
  c->in_flight_bytes -= std::min(c->in_flight_bytes, bytes);
  scanned_ = false;
  dispatch();
}

void Queue::forget_credit(Consumer& c, const Held& h) {
  FERRY_ASSERT(c.in_flight > 0);
  --c.in_flight;
  c.in_flight_bytes -= std::min(c.in_flight_bytes, h.bytes);
  scanned_ = false;
}

bool Queue::has_credit(const Consumer& c) const {
  if (!eligible(c)) return false;  // standing by behind an exclusive consumer
  if (c.in_flight >= c.window.messages) return false;
  return c.window.bytes == 0 || c.in_flight_bytes < c.window.bytes;
}

void Queue::dispatch() {
  // Delivering can call back into the host, which must not re-enter here.
  if (dispatching_) return;
  // Assigned groups may make a message wait for its consumer: the walk
  // lets the others pass.
  if (selective_ != 0 || any_groups()) return dispatch_selected();
  dispatching_ = true;
  const std::size_t ready_before = ready_.size();
  // The clock is read only for a message that can expire (most cannot):
  // a topic's fan-out dispatches once per subscriber and message.
  std::int64_t now = -1;
  bool walk = false;
  for (;;) {
    if (ready_.empty()) {
      // The paged tail comes after everything in memory: read its front
      // back only when a consumer can take it (refill consumes at least one
      // position, so this loop ends).
      if (paged_.empty() || !any_credit()) break;
      refill();
      continue;
    }
    const Message& front = *ready_.front().message;
    if (front.expires_ms != 0) {
      if (now < 0) now = host_.now_ms();
      if (front.expired_at(now)) {
        QueueEntry e = ready_.pop();
        expired(e);
        continue;
      }
    }
    Consumer* c = pick(front);
    if (c == nullptr) {
      // A grouped message waits for its consumer while others have room:
      // the walk goes past it.
      walk = any_groups() && any_credit();
      break;
    }
    QueueEntry e = ready_.pop();
    ++c->in_flight;
    c->in_flight_bytes += e.message->body.size();
    hand_out(*c, std::move(e));
  }
  dispatching_ = false;
  if (ready_.size() < ready_before) host_.space_freed(*this);
  if (walk) dispatch_selected();
}

void Queue::hand_out(Consumer& c, QueueEntry e) {
  Delivery d;
  d.message = e.message;
  d.seq = DeliverySeq(++c.next_seq);
  d.earlier_deliveries = e.deliveries++;
  bump(&MessageCounters::dequeued);
  if (d.earlier_deliveries > 0) bump(&MessageCounters::redelivered);
  if (c.mode == AckMode::kAuto) {
    // At-most-once: consumed the moment it is handed out. The window is
    // given back by credit() once the connection has written it.
    drop(e);
    host_.deliver(c.key, std::move(d));
    return;
  }
  const std::uint64_t bytes = e.message->body.size();
  auto [it, inserted] = c.held.emplace(d.seq.value, Held{std::move(e), bytes, false});
  host_.deliver_counted(*this, it->second.entry, c.key, std::move(d));
}

Queue::Consumer* Queue::next_selecting(const Message& m) {
  const std::size_t n = consumers_.size();
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t idx = (next_consumer_ + i) % n;
    Consumer& c = *consumers_[idx];
    if (has_credit(c) && selects(c.selector, m)) {
      next_consumer_ = (idx + 1) % n;
      return &c;
    }
  }
  return nullptr;
}

const std::string* Queue::group_of(const Message& m) const {
  if (!grouping_) return nullptr;
  const std::string* g = m.header("JMSXGroupID");
  if (g == nullptr) g = m.header("group");
  return g == nullptr || g->empty() ? nullptr : g;
}

Queue::Consumer* Queue::pick(const Message& m) {
  const std::string* g = group_of(m);
  if (g == nullptr) return next_selecting(m);
  // JMSXGroupSeq -1: the group's last message; the next one starts afresh.
  const std::string* seq = m.header("JMSXGroupSeq");
  const bool closes = seq != nullptr && *seq == "-1";
  if (!groups_) groups_ = std::make_unique<Groups>();
  auto& by_use = groups_->by_use;
  if (auto it = groups_->by_name.find(*g); it != groups_->by_name.end()) {
    Consumer& owner = *it->second.owner;
    if (eligible(owner) && selects(owner.selector, m)) {
      // Full: the message keeps its place; the walk lets others pass.
      if (!has_credit(owner)) return nullptr;
      by_use.splice(by_use.end(), by_use, it->second.used);
      if (closes) erase_group(it);
      return &owner;
    }
    // Its consumer stands by behind an exclusive one, or does not select
    // this message: the group picks again.
    erase_group(it);
  }
  Consumer* c = next_selecting(m);
  if (c != nullptr && !closes) remember_group(*g, c);
  return c;
}

void Queue::remember_group(const std::string& group, Consumer* c) {
  auto& by_use = groups_->by_use;
  if (groups_->by_name.size() >= std::max<std::uint32_t>(settings_.max_groups, 1)) {
    // The bound: the least recently used assignment is forgotten (its next
    // message picks a consumer again).
    erase_group(groups_->by_name.find(by_use.front()));
  }
  by_use.push_back(group);
  groups_->by_name.emplace(group, Group{c, std::prev(by_use.end())});
  // Group names come from clients: their memory counts toward memory-limit.
  host_.memory_changed(static_cast<std::int64_t>(group_cost(group)));
}

void Queue::erase_group(std::map<std::string, Group, std::less<>>::iterator it) {
  host_.memory_changed(-static_cast<std::int64_t>(group_cost(it->first)));
  groups_->by_use.erase(it->second.used);
  groups_->by_name.erase(it);
  // Messages passed over for this group's consumer may go elsewhere now.
  groups_->moved = true;
}

void Queue::forget_groups_of(const Consumer* c) {
  if (!groups_) return;
  for (auto it = groups_->by_name.begin(); it != groups_->by_name.end();) {
    if (it->second.owner == c) {
      erase_group(it++);
    } else {
      ++it;
    }
  }
}

// ActiveMQ: the first exclusive consumer subscribed gets everything; when
// it leaves, the next exclusive one (in subscription order) takes over.
// RabbitMQ's x-single-active-consumer is the same with every consumer
// counted as exclusive: the first one is active, the others stand by.
void Queue::choose_exclusive() {
  const bool single_active = arguments().single_active_consumer.value_or(false);
  const Consumer* first = nullptr;
  for (auto& c : consumers_)
    if ((c->exclusive || single_active) && first == nullptr) first = c.get();
  for (auto& c : consumers_) c->stands_by = first != nullptr && c.get() != first;
}

// Selective consumers must not stall the queue: a message no consumer with
// room selects stays where it is, and the walk goes on to the messages
// behind it (in delivery order: priority, then enqueue order), so each
// consumer gets the first messages it selects. The walk stops as soon as
// no consumer has room. Picks are made during the walk (reserving window
// room) and handed out after it, because delivering can call back into the
// host, and the ready list must not change under the walk.
//
// Cost: a walk evaluates the selectors for each waiting message it passes.
// After a walk that delivered everything it could, scanned_ remembers that
// the messages passed over are of no use to any consumer with room, so
// that a stream of enqueues into a backlog nobody selects looks only at
// each new message; any consumer gaining room, or a message coming back,
// makes the next walk a whole one.
void Queue::dispatch_selected() {
  dispatching_ = true;
  const std::size_t ready_before = ready_.size();
  std::int64_t now = -1;
  std::vector<std::pair<QueueEntry, ConsumerKey>> picked;
  std::vector<QueueEntry> lapsed;  // expired during the walk
  for (;;) {
    if (!any_credit()) break;
    const bool whole = !scanned_;
    const std::uint64_t from = unscanned_from_;
    Consumer* chosen = nullptr;
    bool took = false, stopped = false;
    ready_.extract(
        [&](const QueueEntry& e) {
          if (took) {
            took = false;
            if (!any_credit()) {
              stopped = true;
              return ReadyList::Pick::kStop;
            }
          }
          if (!whole && e.order < from) return ReadyList::Pick::kKeep;
          const Message& m = *e.message;
          if (m.expires_ms != 0) {
            if (now < 0) now = host_.now_ms();
            if (m.expired_at(now)) {
              chosen = nullptr;
              return ReadyList::Pick::kTake;
            }
          }
          chosen = pick(m);
          if (chosen == nullptr) return ReadyList::Pick::kKeep;
          ++chosen->in_flight;
          chosen->in_flight_bytes += m.body.size();
          took = true;
          return ReadyList::Pick::kTake;
        },
        [&](QueueEntry&& e) {
          if (chosen == nullptr) lapsed.push_back(std::move(e));
          else picked.emplace_back(std::move(e), chosen->key);
        });
    // A walk cut short by full windows proves nothing about the rest; nor
    // does one during which a group moved (its messages passed over may go
    // elsewhere now).
    scanned_ = !stopped && !(groups_ && std::exchange(groups_->moved, false));
    unscanned_from_ = next_order_;
    for (QueueEntry& e : lapsed) expired(e);
    lapsed.clear();
    for (auto& [e, key] : picked) {
      Consumer* c = find(key);
      if (c != nullptr) {
        hand_out(*c, std::move(e));
      } else {
        // Its consumer left during an earlier hand-out (its reservation
        // went with it): back to its place, never delivered.
        ready_.put_back(std::move(e));
        scanned_ = false;
      }
    }
    picked.clear();
    // Everything in memory was looked at: read the paged tail's front back
    // if someone still has room, up to kSelectorReadyLimit waiting (then
    // selective consumers pick from those until the front moves).
    if (stopped || paged_.empty() || ready_.size() >= kSelectorReadyLimit || !any_credit()) break;
    refill();
  }
  dispatching_ = false;
  if (ready_.size() < ready_before) host_.space_freed(*this);
}

void Queue::give_back(QueueEntry e, bool redelivery) {
  // x-delivery-limit N: dead-lettered once delivered more than N times.
  const auto& limit = arguments().delivery_limit;
  const std::uint64_t max = limit ? *limit + 1 : settings_.max_deliveries;
  if (max != 0 && !discards_dead_letters() && e.deliveries >= max) {
    to_dead_letter(std::move(e), limit ? "delivery_limit" : "max-deliveries");
    return;
  }
  host_.returned(*this, e);
  // x-redelivery-delay: held apart until then, as a scheduled message is
  // (release_due puts it back in its place).
  if (redelivery) {
    if (const std::uint64_t delay = arguments().redelivery_delay_after(e.deliveries); delay != 0) {
      hold_scheduled(std::move(e), host_.now_ms() + static_cast<std::int64_t>(delay));
      return;
    }
  }
  note_expiry(*e.message);
  ready_.put_back(std::move(e));
  scanned_ = false;  // an old message is back: worth a look again
}

void Queue::uncharge(const QueueEntry& e) {
  host_.memory_changed(-static_cast<std::int64_t>(e.message->footprint()));
}

void Queue::drop(const QueueEntry& e) {
  uncharge(e);
  host_.removed(*this, e);
}

void Queue::to_dead_letter(const QueueEntry& e, std::string_view reason) {
  // A dead-letter queue has nowhere further to send (unless its own
  // arguments name a dead-letter exchange): a message rejected there
  // (requeue:false) is discarded, as a broker without a further
  // dead-letter target does.
  if (discards_dead_letters()) {
    ++extras().discarded;
    drop(e);
    return;
  }
  uncharge(e);
  bump(&MessageCounters::dead_lettered);
  host_.dead_letter(*this, e, reason);
}

void Queue::note_expiry(const Message& m) {
  if (m.expires_ms != 0 && (next_expiry_ == 0 || m.expires_ms < next_expiry_)) next_expiry_ = m.expires_ms;
}

// Runs every tick: walks the waiting messages only when one of them may have
// expired (next_expiry_ is a lower bound of their expiry times), so a large
// backlog without expiry costs nothing here.
void Queue::hold_scheduled(QueueEntry e, std::int64_t due) {
  Extras& x = extras();
  if (!x.scheduled) x.scheduled = std::make_unique<ScheduledEntries>();
  x.scheduled->push(std::move(e), due);
  host_.scheduled_changed(1);
}

void Queue::release_due(std::int64_t now_ms) {
  ScheduledEntries* s = scheduled();
  if (s == nullptr || s->empty() || s->next_due() > now_ms) return;
  std::vector<QueueEntry> due = s->take_due(now_ms);
  host_.scheduled_changed(-static_cast<std::int64_t>(due.size()));
  for (QueueEntry& e : due) {
    note_expiry(*e.message);
    if (e.deliveries != 0) {
      // A redelivery that waited its x-redelivery-delay: back in its place.
      ready_.put_back(std::move(e));
      continue;
    }
    e.order = next_order_++;
    ready_.push(std::move(e));
  }
  scanned_ = false;  // new messages for selective consumers
  dispatch();
  if (extras_) drop_head_to_fit();
}

void Queue::expire(std::int64_t now_ms) {
  release_due(now_ms);
  if (next_expiry_ == 0 || now_ms < next_expiry_) return;
  const std::size_t before = ready_.size();
  std::int64_t next = 0;
  ready_.remove_if(
      [&](const QueueEntry& e) {
        if (e.message->expired_at(now_ms)) return true;
        const std::int64_t at = e.message->expires_ms;
        if (at != 0 && (next == 0 || at < next)) next = at;
        return false;
      },
      [&](const QueueEntry& e) { expired(e); });
  next_expiry_ = next;
  if (ready_.size() < before) host_.space_freed(*this);
}

void Queue::enqueue_paged(const PagedPosition& p) {
  paged_.push(p);
  charge_paged();
  bump(&MessageCounters::enqueued);
  dispatch();
  if (extras_) drop_head_to_fit();
}

void Queue::charge_paged() {
  const auto now = static_cast<std::int64_t>(paged_.memory_bytes());
  if (now != paged_charged_) {
    const std::int64_t delta = now - paged_charged_;
    paged_charged_ = now;
    host_.memory_changed(delta);
  }
}

bool Queue::any_credit() const {
  return std::any_of(consumers_.begin(), consumers_.end(), [&](const auto& c) { return has_credit(*c); });
}

bool Queue::refill() { return refill_from(kPageInBatch, kPageInBytes) > 0; }

std::size_t Queue::refill_from(std::size_t n, std::uint64_t max_bytes) {
  std::vector<PagedPosition> ps;
  paged_.peek(n, ps);
  if (ps.empty()) return 0;
  std::vector<QueueEntry> read;
  const std::size_t consumed = host_.page_in(*this, ps, max_bytes, read);
  FERRY_ASSERT(consumed >= 1 && consumed <= ps.size());
  paged_.pop(consumed);
  charge_paged();
  const std::int64_t now = host_.now_ms();
  std::size_t kept = 0;
  for (QueueEntry& e : read) {
    host_.memory_changed(static_cast<std::int64_t>(e.message->footprint()));
    // Expiry of a paged message is noticed only here (the tail holds no
    // expiry times): it is expired when it is read back.
    if (e.message->expired_at(now)) {
      expired(e);
      continue;
    }
    if (e.message->deliver_at_ms != 0 && !e.message->due_at(now)) {
      hold_scheduled(std::move(e));  // a scheduled message paged before it was due
      continue;
    }
    note_expiry(*e.message);
    e.order = next_order_++;
    ready_.push(std::move(e));
    ++kept;
  }
  return kept;
}

std::size_t Queue::page_in_front(std::uint64_t segment, std::uint64_t max_bytes) {
  std::size_t total = 0;
  std::vector<PagedPosition> ps;
  while (!paged_.empty() && max_bytes > 0) {
    ps.clear();
    paged_.peek(kPageInBatch, ps);
    std::size_t n = 0;
    while (n < ps.size() && ps[n].segment == segment) ++n;
    if (n == 0) break;
    const std::size_t size_before = paged_.size();
    refill_from(n, std::min(max_bytes, kPageInBytes));
    total += size_before - paged_.size();
    max_bytes -= std::min<std::uint64_t>(max_bytes, kPageInBytes);
  }
  dispatch();
  return total;
}

QueueEntry* Queue::find_entry(MessageId id) {
  QueueEntry* found = nullptr;
  ready_.for_each_mut([&](QueueEntry& e) {
    if (e.message->id == id) found = &e;
  });
  if (found != nullptr) return found;
  for (auto& c : consumers_)
    for (auto& [seq, h] : c->held)
      if (h.entry.message->id == id) return &h.entry;
  if (ScheduledEntries* s = scheduled()) return s->find(id);
  return nullptr;
}

void Queue::discard_all() {
  FERRY_ASSERT(consumers_.empty());
  (void)purge();
}

std::size_t Queue::purge() {
  std::size_t n = 0;
  // Scheduled messages go too: a purged or deleted queue keeps nothing.
  if (ScheduledEntries* s = scheduled(); s != nullptr && !s->empty()) {
    std::vector<QueueEntry> all = s->take_all();
    host_.scheduled_changed(-static_cast<std::int64_t>(all.size()));
    for (const QueueEntry& e : all) drop(e);
    n += all.size();
  }
  while (!ready_.empty()) {
    QueueEntry e = ready_.pop();
    drop(e);
    ++n;
  }
  // Paged messages are read back for their ids (their ack records name them).
  std::vector<PagedPosition> ps;
  std::vector<QueueEntry> read;
  while (!paged_.empty()) {
    ps.clear();
    read.clear();
    paged_.peek(kPageInBatch, ps);
    const std::size_t consumed = host_.page_in(*this, ps, 4 * kPageInBytes, read);
    FERRY_ASSERT(consumed >= 1 && consumed <= ps.size());
    paged_.pop(consumed);
    n += consumed;
    for (QueueEntry& e : read) {
      host_.memory_changed(static_cast<std::int64_t>(e.message->footprint()));
      drop(e);
    }
  }
  charge_paged();
  next_expiry_ = 0;
  if (n > 0) host_.space_freed(*this);
  return n;
}

std::size_t Queue::unacked() const {
  std::size_t n = 0;
  for (const auto& c : consumers_) n += c->held.size();
  return n;
}

std::vector<ConsumerStats> Queue::consumer_stats() const {
  std::vector<ConsumerStats> out;
  out.reserve(consumers_.size());
  for (const auto& c : consumers_) {
    ConsumerStats s;
    s.key = c->key;
    s.mode = c->mode;
    s.prefetch = c->window.messages;
    s.window_bytes = c->window.bytes;
    s.unacked = c->held.size();
    s.exclusive = c->exclusive;
    s.active = !c->stands_by;
    s.selector = c->selector != nullptr;
    out.push_back(s);
  }
  return out;
}

std::vector<QueueEntry> Queue::take_waiting(std::size_t count) {
  std::vector<QueueEntry> out;
  while (!ready_.empty() && out.size() < count) {
    out.push_back(ready_.pop());
    uncharge(out.back());
  }
  // Then the paged tail, read back (not charged: they leave this queue).
  std::vector<PagedPosition> ps;
  std::vector<QueueEntry> read;
  while (out.size() < count && !paged_.empty()) {
    ps.clear();
    read.clear();
    paged_.peek(std::min(kPageInBatch, count - out.size()), ps);
    const std::size_t consumed = host_.page_in(*this, ps, 4 * kPageInBytes, read);
    FERRY_ASSERT(consumed >= 1 && consumed <= ps.size());
    paged_.pop(consumed);
    for (QueueEntry& e : read) out.push_back(std::move(e));
  }
  charge_paged();
  if (!out.empty()) host_.space_freed(*this);
  return out;
}

}  // namespace ferry::broker
