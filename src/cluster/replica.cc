#include "cluster/replica.h"

#include <algorithm>

#include "common/assert.h"

namespace ferry::cluster {

namespace {

bool contains(const std::vector<NodeId>& v, const NodeId& n) { return std::find(v.begin(), v.end(), n) != v.end(); }

}  // namespace

Replica::Replica(NodeId self, ReplicaLog& log, ReplicaOptions options, ReplicaHost& host)
    : self_(std::move(self)), log_(log), options_(options), host_(host) {}

void Replica::on_state(std::int64_t now_ms, const PartitionState& s) {
  // etcd's answers can arrive out of order (a poll and a proposal's answer):
  // only a newer state counts. Versions only grow, across epochs too.
  if (s.leader_epoch < state_.leader_epoch) return;
  if (s.leader_epoch == state_.leader_epoch && s.version <= state_.version && role_ != Role::kNone) return;
  bool new_epoch = s.leader_epoch != state_.leader_epoch || role_ == Role::kNone;
  if (s.is_replica(self_) && s.incarnation_of(self_) != options_.incarnation) {
    // Written for this broker's previous run, whose log is gone: leading
    // or fetching on it could pass an empty log for a caught-up one.
    state_ = s;
    pending_.reset();
    role_ = Role::kNone;
    followers_.clear();
    fetch_outstanding_ = false;
    return;
  }
  if (role_ == Role::kLeader && !new_epoch) {
    // A follower that restarted has lost what it had, and one the
    // controller took out of the set (restarted, or its member key gone)
    // may be dead: either counts again only from its next fetch, so that
    // its last end is not proposed back in.
    for (auto& [n, f] : followers_) {
      if (s.incarnation_of(n) != state_.incarnation_of(n) || (state_.in_isr(n) && !s.in_isr(n)))
        f = Follower{LogOffset(-1), now_ms, LogOffset(0), now_ms};
    }
  }
  state_ = s;
  // Whatever a pending proposal asked, the committed set is now this one:
  // either it was applied (this is its result or later) or refused.
  pending_.reset();
  if (new_epoch) {
    if (s.leader == self_) {
      become_leader(now_ms);
    } else if (s.is_replica(self_)) {
      become_follower();
    } else {
      role_ = Role::kNone;
      followers_.clear();
    }
  } else if (role_ == Role::kLeader) {
    advance_high_watermark(now_ms);
  }
}

void Replica::become_leader(std::int64_t now_ms) {
  role_ = Role::kLeader;
  epoch_start_ = log_.end_offset();
  followers_.clear();
  for (const NodeId& n : state_.replicas) {
    if (n == self_) continue;
    // Every follower gets a full lag period to fetch from the new leader
    // before it can be judged out of sync.
    followers_[n] = Follower{LogOffset(-1), now_ms, LogOffset(0), now_ms};
  }
  fetch_outstanding_ = false;
  // What it knew confirmed as a follower stays confirmed; the host has no
  // writes of this epoch below it.
  confirmed_end_ = hw_;
  advance_high_watermark(now_ms);
}

void Replica::become_follower() {
  role_ = Role::kFollower;
  followers_.clear();
  fetch_outstanding_ = false;
  next_fetch_ms_ = 0;
}

std::vector<NodeId> Replica::maximal_isr() const {
  std::vector<NodeId> isr = state_.isr;
  if (pending_) {
    for (const NodeId& n : pending_->isr) {
      if (!contains(isr, n)) isr.push_back(n);
    }
  }
  return isr;
}

void Replica::advance_high_watermark(std::int64_t /*now_ms*/) {
  if (role_ != Role::kLeader) return;
  LogOffset low = log_.end_offset();
  for (const NodeId& n : maximal_isr()) {
    if (n == self_) continue;
    auto it = followers_.find(n);
    if (it == followers_.end()) return;  // not a replica: nothing counts until etcd says otherwise
    low = std::min(low, it->second.end);
  }
  if (low > hw_) hw_ = low;
  if (state_.isr.size() >= options_.min_insync && hw_ > confirmed_end_) {
    confirmed_end_ = hw_;
    host_.confirmed(state_.leader_epoch, confirmed_end_);
  }
}

void Replica::check_isr(std::int64_t now_ms) {
  if (pending_) {
    if (now_ms - pending_sent_ms_ >= options_.propose_retry_ms) {
      pending_sent_ms_ = now_ms;
      host_.propose(*pending_);
    }
    return;
  }
  std::vector<NodeId> isr;
  bool changed = false;
  for (const NodeId& n : state_.isr) {
    auto it = followers_.find(n);
    if (n != self_ && it != followers_.end() && now_ms - it->second.caught_up_ms > options_.lag_max_ms) {
      changed = true;  // lagging: out
      continue;
    }
    isr.push_back(n);
  }
  LogOffset needed = std::max(hw_, epoch_start_);
  for (const auto& [n, f] : followers_) {
    // Back in only while it fetches: a dead follower's last end stays at
    // the high watermark, and must not be proposed in again and again.
    if (!contains(state_.isr, n) && f.end.value >= 0 && f.end >= needed &&
        now_ms - f.caught_up_ms <= options_.lag_max_ms) {
      isr.push_back(n);  // caught up: back in
      changed = true;
    }
  }
  if (!changed) return;
  pending_ = IsrChange{self_, state_.leader_epoch, state_.version, std::move(isr)};
  pending_sent_ms_ = now_ms;
  host_.propose(*pending_);
}

void Replica::on_fetch(std::int64_t now_ms, const FetchRequest& r) {
  FetchResponse out;
  out.leader = self_;
  out.leader_epoch = state_.leader_epoch;
  out.id = r.id;
  out.fetch_offset = r.fetch_offset;
  auto f = followers_.find(r.follower);
  if (role_ != Role::kLeader || r.leader_epoch != state_.leader_epoch || f == followers_.end()) {
    out.kind = FetchResponse::Kind::kFenced;
    host_.send(r.follower, out);
    return;
  }
  if (r.fetch_offset.value > 0) {
    // KIP-320: the follower's last record must be in this log with the same
    // epoch (the start of an epoch is the same in every log that has it,
    // since its one leader wrote it), else its log leaves ours there.
    ReplicaLog::EpochEnd e = log_.end_of_epoch(r.last_fetched_epoch);
    if (e.epoch != r.last_fetched_epoch || e.end_offset < r.fetch_offset) {
      out.kind = FetchResponse::Kind::kDiverging;
      out.diverging_epoch = e.epoch;
      out.diverging_end_offset = e.end_offset;
      out.high_watermark = hw_;
      host_.send(r.follower, out);
      return;
    }
  }
  Follower& fo = f->second;
  // Requests may arrive out of order; a validated prefix is never cut
  // within one epoch, so the furthest one counts.
  fo.end = std::max(fo.end, r.fetch_offset);
  if (r.fetch_offset >= log_.end_offset()) {
    fo.caught_up_ms = now_ms;
  } else if (r.fetch_offset >= fo.leader_end_at_last_fetch) {
    fo.caught_up_ms = std::max(fo.caught_up_ms, fo.last_fetch_ms);
  }
  fo.leader_end_at_last_fetch = log_.end_offset();
  fo.last_fetch_ms = now_ms;
  advance_high_watermark(now_ms);
  out.kind = FetchResponse::Kind::kRecords;
  out.records = log_.read(r.fetch_offset, options_.max_fetch_records);
  out.high_watermark = hw_;
  host_.send(r.follower, out);
}

void Replica::on_fetch_response(std::int64_t now_ms, const FetchResponse& r) {
  if (role_ != Role::kFollower || r.leader != state_.leader || r.leader_epoch != state_.leader_epoch ||
      !fetch_outstanding_ || r.id != fetch_id_) {
    return;  // stale: another epoch, another leader, or an answer already given up on
  }
  fetch_outstanding_ = false;
  switch (r.kind) {
    case FetchResponse::Kind::kFenced:
      next_fetch_ms_ = now_ms + options_.fetch_interval_ms;
      return;
    case FetchResponse::Kind::kDiverging: {
      // Keep what both logs agree on: up to the end of the leader's epoch
      // in our log too (KIP-279); repeated until the leader accepts.
      ReplicaLog::EpochEnd mine = log_.end_of_epoch(r.diverging_epoch);
      LogOffset end = std::min(r.diverging_end_offset, mine.end_offset);
      FERRY_ASSERT(end < log_.end_offset());
      log_.truncate(end);
      hw_ = std::min(hw_, end);
      send_fetch(now_ms);
      return;
    }
    case FetchResponse::Kind::kRecords:
      break;
  }
  if (r.fetch_offset != log_.end_offset()) return;
  for (const LogEntry& e : r.records) log_.append(e);
  hw_ = std::max(hw_, std::min(r.high_watermark, log_.end_offset()));
  if (!r.records.empty()) {
    send_fetch(now_ms);
  } else {
    next_fetch_ms_ = now_ms + options_.fetch_interval_ms;
  }
}

void Replica::send_fetch(std::int64_t now_ms) {
  ++fetch_id_;
  fetch_outstanding_ = true;
  fetch_sent_ms_ = now_ms;
  host_.send(state_.leader,
             FetchRequest{self_, state_.leader_epoch, fetch_id_, log_.end_offset(), log_.last_epoch()});
}

void Replica::tick(std::int64_t now_ms) {
  if (role_ == Role::kFollower && !state_.leader.empty()) {
    if (fetch_outstanding_ && now_ms - fetch_sent_ms_ >= options_.fetch_timeout_ms) fetch_outstanding_ = false;
    if (!fetch_outstanding_ && now_ms >= next_fetch_ms_) send_fetch(now_ms);
  } else if (role_ == Role::kLeader) {
    advance_high_watermark(now_ms);
    check_isr(now_ms);
  }
}

Result<LogOffset> Replica::append(std::int64_t now_ms, std::string payload) {
  if (role_ != Role::kLeader && state_.leader == self_) {
    return failure("not the leader", "this broker restarted and waits for the controller to fence its previous run");
  }
  if (role_ != Role::kLeader) {
    return failure("not the leader",
                   state_.leader.empty() ? "the partition has no leader" : "the leader is " + state_.leader);
  }
  if (state_.isr.size() < options_.min_insync) {
    // Kafka's NOT_ENOUGH_REPLICAS: refused rather than confirmed unreplicated.
    return failure("not enough in-sync replicas", std::to_string(state_.isr.size()) + " in sync, min-insync " +
                                                      std::to_string(options_.min_insync));
  }
  LogOffset at = log_.append(LogEntry{state_.leader_epoch, std::move(payload)});
  advance_high_watermark(now_ms);
  return at;
}

}  // namespace ferry::cluster
