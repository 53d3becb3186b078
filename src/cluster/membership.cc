#include "cluster/membership.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <random>

namespace ferry::cluster {

using Json = nlohmann::json;

const char* coordination_name(Coordination c) {
  switch (c) {
    case Coordination::kStarting: return "starting";
    case Coordination::kOk: return "ok";
    case Coordination::kRenewing: return "renewing";
    case Coordination::kLost: return "lost";
  }
  return "?";
}

ClusterKeys::ClusterKeys(const std::string& cluster_name)
    : root("/ferry/" + cluster_name + "/"),
      members(root + "members/"),
      controller(root + "controller"),
      controller_epoch(root + "controller_epoch") {}

namespace {

std::optional<MemberInfo> parse_member(const std::string& node, const std::string& value) {
  Json j = Json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  MemberInfo m;
  m.node = node;
  m.stomp = j.value("stomp", "");
  m.http = j.value("http", "");
  m.cluster = j.value("cluster", "");
  m.version = j.value("version", "");
  m.incarnation = j.value("incarnation", "");
  return m;
}

std::int64_t parse_epoch(const std::string& text) {
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  return ec == std::errc() && p == text.data() + text.size() ? n : 0;
}

}  // namespace

Membership::Membership(Coordinator& store, ClusterOptions options, MemberInfo self)
    : store_(store), options_(std::move(options)), self_(std::move(self)), keys_(options_.cluster_name) {
  view_.cluster = options_.cluster_name;
  view_.node = self_.node;
  if (self_.incarnation.empty()) {
    // Unique per run with overwhelming odds; not a secret.
    std::random_device rd;
    const std::uint64_t r = (std::uint64_t(rd()) << 32) ^ rd();
    self_.incarnation = fmt::format("{:016x}", r);
  }
}

std::int64_t Membership::keep_alive_period_ms() const {
  const std::int64_t ttl = view_.lease_ttl_s > 0 ? view_.lease_ttl_s : options_.lease_ttl_s;
  return std::max<std::int64_t>(ttl * 1000 / 3, 100);
}

void Membership::set_coordination(Coordination c) {
  if (view_.coordination == c) return;
  if (c == Coordination::kOk) spdlog::info("cluster: coordination ok (etcd reached, lease {})", view_.lease.value);
  else if (c == Coordination::kRenewing) spdlog::warn("cluster: etcd not answering; the lease is valid for now");
  view_.coordination = c;
}

void Membership::lose(const std::string& why) {
  if (view_.is_controller) spdlog::warn("cluster: no longer controller (epoch {}): {}", view_.controller_epoch, why);
  if (view_.coordination != Coordination::kLost) spdlog::error("cluster: coordination lost: {}", why);
  view_.coordination = Coordination::kLost;
  view_.is_controller = false;
  view_.controller.clear();  // not known any more
}

std::int64_t Membership::failed(std::int64_t now_ms, const Error& e) {
  view_.last_error = e.text();
  if (view_.lease.value != 0 && now_ms < view_.lease_valid_until_ms) {
    set_coordination(Coordination::kRenewing);
    // Try again soon, and wake at the deadline to give up in time.
    return std::clamp<std::int64_t>(view_.lease_valid_until_ms - now_ms, 1, kPollMs);
  }
  if (view_.coordination != Coordination::kStarting || view_.lease.value != 0)
    lose(view_.lease.value != 0 ? "the lease ran out without a keep-alive answer (" + e.text() + ")" : e.text());
  return kPollMs;
}

std::int64_t Membership::step(std::int64_t now_ms) {
  // What this side can prove: past the deadline the lease may be gone.
  if (view_.lease.value != 0 && now_ms >= view_.lease_valid_until_ms && view_.coordination != Coordination::kLost)
    lose("the lease ran out without a keep-alive answer");
  if (view_.lease.value == 0) {
    auto granted = store_.grant_lease(options_.lease_ttl_s);
    if (!granted) return failed(now_ms, granted.error());
    view_.lease = granted->id;
    view_.lease_ttl_s = granted->ttl_s;
    view_.lease_valid_until_ms = now_ms + granted->ttl_s * 1000;
    last_keep_alive_ms_ = now_ms;
    registered_ = false;
  } else if (now_ms - last_keep_alive_ms_ >= keep_alive_period_ms() || view_.coordination != Coordination::kOk) {
    auto renewed = store_.keep_alive(view_.lease);
    if (!renewed) return failed(now_ms, renewed.error());
    if (*renewed <= 0) {
      // etcd says the lease is gone, and with it our keys: start over.
      lose("etcd ended the lease (expired)");
      previous_lease_ = view_.lease;
      view_.lease = LeaseId(0);
      registered_ = false;
      return 0;
    }
    view_.lease_valid_until_ms = now_ms + *renewed * 1000;
    last_keep_alive_ms_ = now_ms;
  }
  if (!registered_) {
    Json j{{"node", self_.node}, {"stomp", self_.stomp}, {"http", self_.http}, {"cluster", self_.cluster},
             {"version", self_.version}, {"incarnation", self_.incarnation}};
    auto put = store_.put(keys_.member(self_.node), j.dump(), view_.lease);
    if (!put) return failed(now_ms, put.error());
    registered_ = true;
    spdlog::info("cluster: registered as member {} of cluster {} (lease {}, TTL {} s)", self_.node,
                 options_.cluster_name, view_.lease.value, view_.lease_ttl_s);
  }
  if (!read_cluster(now_ms)) return kPollMs;  // failed() has judged it
  set_coordination(Coordination::kOk);
  view_.last_error.clear();
  return std::min<std::int64_t>(kPollMs, keep_alive_period_ms());
}

bool Membership::read_cluster(std::int64_t now_ms) {
  auto read = store_.range(keys_.root);
  if (!read) {
    (void)failed(now_ms, read.error());
    return false;
  }
  std::vector<MemberInfo> members;
  std::optional<KeyValue> controller_kv, epoch_kv;
  bool self_seen = false;
  for (const KeyValue& kv : read->kvs) {
    if (kv.key.starts_with(keys_.members)) {
      const std::string node = kv.key.substr(keys_.members.size());
      if (auto m = parse_member(node, kv.value)) members.push_back(std::move(*m));
      if (node == self_.node && kv.lease == view_.lease) self_seen = true;
      // Our name under a lease that is neither ours nor our previous one:
      // another broker runs with the same node-name, and the two overwrite
      // each other's key every round. Said once; the name must be unique.
      if (node == self_.node && kv.lease != view_.lease && kv.lease != previous_lease_ && !duplicate_warned_) {
        spdlog::error("cluster: another broker registers as {} (node-name must be unique in cluster {})", node,
                      options_.cluster_name);
        duplicate_warned_ = true;
        view_.duplicate_name = true;
      }
    } else if (kv.key == keys_.controller) {
      controller_kv = kv;
    } else if (kv.key == keys_.controller_epoch) {
      epoch_kv = kv;
    }
  }
  view_.members = std::move(members);
  if (!self_seen) registered_ = false;  // deleted by someone, or another broker took the name: put it back
  if (!controller_kv) return stand_for_controller(now_ms, epoch_kv);
  Json j = Json::parse(controller_kv->value, nullptr, false);
  const std::string holder = !j.is_discarded() && j.is_object() ? j.value("node", "") : "";
  const std::int64_t epoch = !j.is_discarded() && j.is_object() ? j.value("epoch", std::int64_t{0}) : 0;
  const bool mine = holder == self_.node && controller_kv->lease == view_.lease;
  if (mine != view_.is_controller && !mine)
    spdlog::warn("cluster: no longer controller (epoch {}); {} is, epoch {}", view_.controller_epoch, holder, epoch);
  view_.controller = holder;
  view_.controller_epoch = epoch;
  view_.is_controller = mine;
  view_.controller_revision = controller_kv->mod_revision;
  return true;
}

// Creates the controller key under this broker's lease and raises
// controller_epoch, in one transaction that holds only if the controller key
// still does not exist and controller_epoch is as read: of brokers racing,
// one wins; a loser learns the winner on its next read.
bool Membership::stand_for_controller(std::int64_t now_ms, const std::optional<KeyValue>& epoch_kv) {
  const std::int64_t epoch = (epoch_kv ? parse_epoch(epoch_kv->value) : 0) + 1;
  Txn t;
  t.compares.push_back({keys_.controller, Revision(0)});
  t.compares.push_back({keys_.controller_epoch, epoch_kv ? epoch_kv->mod_revision : Revision(0)});
  t.puts.push_back({keys_.controller, Json{{"node", self_.node}, {"epoch", epoch}}.dump(), view_.lease});
  t.puts.push_back({keys_.controller_epoch, std::to_string(epoch), LeaseId(0)});
  auto done = store_.txn(t);
  if (!done) {
    (void)failed(now_ms, done.error());
    return false;
  }
  if (!done->succeeded) {
    view_.controller.clear();  // someone else won: read on the next round
    view_.is_controller = false;
    return true;
  }
  spdlog::info("cluster: {} is the controller, epoch {}", self_.node, epoch);
  view_.controller = self_.node;
  view_.controller_epoch = epoch;
  view_.is_controller = true;
  view_.controller_revision = done->revision;
  return true;
}

void Membership::leave() {
  if (view_.lease.value == 0) return;
  if (Status revoked = store_.revoke_lease(view_.lease); !revoked)
    spdlog::warn("cluster: leaving: the lease was not revoked ({}); it ends by itself within {} s",
                 revoked.error().text(), view_.lease_ttl_s);
  else
    spdlog::info("cluster: left cluster {} (lease revoked)", options_.cluster_name);
  view_.lease = LeaseId(0);
  view_.is_controller = false;
  registered_ = false;
}

}  // namespace ferry::cluster
