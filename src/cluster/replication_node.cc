#include "cluster/replication_node.h"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace ferry::cluster {

namespace asio = boost::asio;

namespace {

ReplicaOptions options_for(ReplicaOptions o, const PartitionState& s) {
  // min-insync is capped by the log's replicas: a log assigned fewer
  // replicas than min-insync (fewer brokers were alive) could never confirm.
  if (!s.replicas.empty()) o.min_insync = std::min(o.min_insync, s.replicas.size());
  return o;
}

}  // namespace

// One log's replica with its host: what the replica sends goes out through
// the transport, tagged with the log's name; an empty answer to a fetch is
// parked (the long poll).
struct ReplicationNode::Entry : ReplicaHost {
  Entry(ReplicationNode& n, std::string l, const PartitionState& s)
      : node(n), log(std::move(l)), replica(n.self_, data, options_for(n.options_, s), *this) {}
  void send(const NodeId& to, const FetchRequest& r) override { node.transport_.send(to, WireMessage{log, r}); }
  void send(const NodeId& to, const FetchResponse& r) override {
    if (answering != nullptr && !releasing && r.kind == FetchResponse::Kind::kRecords && r.records.empty()) {
      parked[to] = Parked{*answering, node.clock_(), data.end_offset(), replica.high_watermark()};
      return;
    }
    node.transport_.send(to, WireMessage{log, r});
  }
  void propose(const IsrChange& change) override {
    if (node.callbacks_.propose) node.callbacks_.propose(log, change);
  }
  void confirmed(LeaderEpoch, LogOffset) override {}  // settle() reads confirmed_end()

  struct Parked {
    FetchRequest request;
    std::int64_t since_ms;
    LogOffset end;  // the leader's log end and high watermark when parked
    LogOffset hw;
  };
  ReplicationNode& node;
  std::string log;
  ReplicaLog data;
  Replica replica;
  LogOffset applied;  // records below it were handed to apply
  bool truncation_warned = false;
  std::deque<Waiting> waiting;
  std::map<NodeId, Parked> parked;
  const FetchRequest* answering = nullptr;  // the fetch being answered now
  bool releasing = false;
};

ReplicationNode::ReplicationNode(NodeId self, ReplicaOptions options, ReplicationTransport& transport,
                                 Callbacks callbacks, std::function<std::int64_t()> clock)
    : self_(std::move(self)),
      options_(options),
      transport_(transport),
      callbacks_(std::move(callbacks)),
      clock_(std::move(clock)),
      timer_(transport.io()) {}

ReplicationNode::~ReplicationNode() = default;

void ReplicationNode::start() {
  asio::post(transport_.io(), [this] { tick(); });
}

void ReplicationNode::tick() {
  const std::int64_t now = clock_();
  std::vector<ReplicaStatus> status;
  for (auto& [log, e] : logs_) {
    e->replica.tick(now);
    settle(*e);
    status.push_back({log, e->replica.role(), e->replica.state(), e->replica.high_watermark(), e->data.end_offset(),
                      e->applied});
  }
  for (auto it = early_.begin(); it != early_.end();) {
    auto& q = it->second;
    while (!q.empty() && q.front().deadline_ms <= now) {
      Done done = std::move(q.front().done);
      q.pop_front();
      done(failure("no leader", "the replicated log " + it->first + " has no leader yet"));
    }
    it = q.empty() ? early_.erase(it) : std::next(it);
  }
  {
    std::lock_guard lock(status_mutex_);
    status_ = std::move(status);
  }
  timer_.expires_after(std::chrono::milliseconds(kTickMs));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

void ReplicationNode::set_state(const std::string& log, const PartitionState& state) {
  asio::post(transport_.io(), [this, log, state] {
    auto it = logs_.find(log);
    if (it == logs_.end()) {
      if (!state.is_replica(self_)) {
        // Not ours: appends waiting for it learn where it is led.
        auto early = early_.find(log);
        if (early == early_.end()) return;
        for (Early& a : early->second) {
          a.done(failure("not the leader", state.leader.empty() ? "the partition has no leader"
                                                                 : "the leader is " + state.leader));
        }
        early_.erase(early);
        return;
      }
      it = logs_.emplace(log, std::make_unique<Entry>(*this, log, state)).first;
    }
    Entry& e = *it->second;
    e.replica.on_state(clock_(), state);
    auto early = early_.find(log);
    if (early != early_.end()) {
      std::deque<Early> q = std::move(early->second);
      early_.erase(early);
      for (Early& a : q) do_append(e, std::move(a.payload), std::move(a.done));
    }
    settle(e);
  });
}

void ReplicationNode::append(const std::string& log, std::string payload, Done done, std::int64_t wait_ms) {
  asio::post(transport_.io(), [this, log, wait_ms, payload = std::move(payload), done = std::move(done)]() mutable {
    auto it = logs_.find(log);
    if (it == logs_.end()) {
      early_[log].push_back(Early{std::move(payload), clock_() + wait_ms, std::move(done)});
      return;
    }
    do_append(*it->second, std::move(payload), std::move(done));
  });
}

void ReplicationNode::do_append(Entry& e, std::string payload, Done done) {
  const std::int64_t now = clock_();
  Result<LogOffset> at = e.replica.append(now, std::move(payload));
  if (!at) return done(at.error());
  e.waiting.push_back(Waiting{e.replica.epoch(), *at, now + kConfirmTimeoutMs, std::move(done)});
  settle(e);
}

void ReplicationNode::on_message(WireMessage m) {
  auto it = logs_.find(m.log);
  if (it == logs_.end()) return;  // not (yet) a replica here: the peer asks again
  Entry& e = *it->second;
  const std::int64_t now = clock_();
  if (auto* r = std::get_if<FetchRequest>(&m.body)) {
    e.answering = r;
    e.replica.on_fetch(now, *r);
    e.answering = nullptr;
  } else {
    e.replica.on_fetch_response(now, std::get<FetchResponse>(m.body));
  }
  settle(e);
}

void ReplicationNode::settle(Entry& e) {
  const std::int64_t now = clock_();
  const bool leader = e.replica.role() == Replica::Role::kLeader;
  // Apply what is committed here, in order, once.
  LogOffset limit = leader ? e.replica.confirmed_end() : e.replica.high_watermark();
  limit = std::min(limit, e.data.end_offset());
  if (e.data.end_offset() < e.applied && !e.truncation_warned) {
    // Never expected: a record below the commit point is in every in-sync
    // member, so no leader's log lacks it. Said, not hidden.
    spdlog::error("cluster: {}: log cut to {} below its applied end {}", e.log, e.data.end_offset().value,
                  e.applied.value);
    e.truncation_warned = true;
  }
  while (e.applied < limit) {
    if (callbacks_.apply) callbacks_.apply(e.log, e.applied, e.data.at(e.applied).payload);
    e.applied = LogOffset(e.applied.value + 1);
  }
  // Answer the appends: confirmed, or not in this leadership.
  while (!e.waiting.empty()) {
    Waiting& w = e.waiting.front();
    if (leader && w.epoch == e.replica.epoch() && w.offset < e.replica.confirmed_end()) {
      Done done = std::move(w.done);
      LogOffset at = w.offset;
      e.waiting.pop_front();
      done(at);
      continue;
    }
    if (!leader || w.epoch != e.replica.epoch()) {
      Done done = std::move(w.done);
      e.waiting.pop_front();
      const std::string& now_leader = e.replica.state().leader;
      done(failure("leadership moved before the write was confirmed",
                   now_leader.empty() ? "no leader now" : "the leader is " + now_leader));
      continue;
    }
    if (w.deadline_ms <= now) {
      Done done = std::move(w.done);
      e.waiting.pop_front();
      done(failure("not confirmed in time", "the in-sync replicas did not all get it within " +
                                                std::to_string(kConfirmTimeoutMs / 1000) + " s"));
      continue;
    }
    break;  // in offset order: the rest are later
  }
  // Release the parked fetches that something new would answer.
  if (!leader) {
    e.parked.clear();  // the follower's fetch times out and goes to the new leader
    return;
  }
  std::vector<FetchRequest> release;
  for (auto it = e.parked.begin(); it != e.parked.end();) {
    const auto& p = it->second;
    if (p.end != e.data.end_offset() || p.hw != e.replica.high_watermark() || now - p.since_ms >= kLongPollMs) {
      release.push_back(p.request);
      it = e.parked.erase(it);
    } else {
      ++it;
    }
  }
  for (const FetchRequest& r : release) {
    // Answered again, now: with what is new, or empty after the poll's time.
    e.answering = &r;
    e.releasing = true;
    e.replica.on_fetch(now, r);
    e.releasing = false;
    e.answering = nullptr;
  }
  // Answering may have moved the high watermark (a follower that had caught up).
  if (!release.empty() && e.replica.confirmed_end() > e.applied) settle(e);
}

std::vector<ReplicationNode::ReplicaStatus> ReplicationNode::status() const {
  std::lock_guard lock(status_mutex_);
  return status_;
}

const Replica* ReplicationNode::replica(const std::string& log) const {
  auto it = logs_.find(log);
  return it == logs_.end() ? nullptr : &it->second->replica;
}

}  // namespace ferry::cluster
