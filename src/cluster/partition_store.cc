#include "cluster/partition_store.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ferry::cluster {

namespace {

using Json = nlohmann::json;

std::string escape(const std::string& log) {
  std::string out;
  for (char ch : log) {
    if (ch == '/') {
      out += "%2F";
    } else if (ch == '%') {
      out += "%25";
    } else {
      out += ch;
    }
  }
  return out;
}

std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && s.compare(i, 3, "%2F") == 0) {
      out += '/';
      i += 2;
    } else if (s[i] == '%' && s.compare(i, 3, "%25") == 0) {
      out += '%';
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string encode(const PartitionState& s) {
  Json j = {{"leader", s.leader}, {"leader_epoch", s.leader_epoch.value}, {"replicas", s.replicas}, {"isr", s.isr}};
  if (!s.incarnations.empty()) j["incarnations"] = s.incarnations;
  return j.dump();
}

Result<PartitionState> decode(const KeyValue& kv) {
  Json j = Json::parse(kv.value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("leader") || !j["leader"].is_string() || !j.contains("leader_epoch") ||
      !j["leader_epoch"].is_number_integer() || !j.contains("replicas") || !j["replicas"].is_array() ||
      !j.contains("isr") || !j["isr"].is_array()) {
    return failure("bad partition metadata", kv.key + ": " + kv.value);
  }
  PartitionState s;
  s.leader = j["leader"].get<std::string>();
  s.leader_epoch = LeaderEpoch(j["leader_epoch"].get<std::int64_t>());
  for (const Json& n : j["replicas"]) {
    if (!n.is_string()) return failure("bad partition metadata", kv.key + ": " + kv.value);
    s.replicas.push_back(n.get<std::string>());
  }
  for (const Json& n : j["isr"]) {
    if (!n.is_string()) return failure("bad partition metadata", kv.key + ": " + kv.value);
    s.isr.push_back(n.get<std::string>());
  }
  if (j.contains("incarnations")) {
    if (!j["incarnations"].is_object()) return failure("bad partition metadata", kv.key + ": " + kv.value);
    for (const auto& [n, inc] : j["incarnations"].items()) {
      if (!inc.is_string()) return failure("bad partition metadata", kv.key + ": " + kv.value);
      s.incarnations[n] = inc.get<std::string>();
    }
  }
  s.version = kv.mod_revision.value;
  return s;
}

}  // namespace

PartitionStore::PartitionStore(Coordinator& store, const ClusterKeys& keys)
    : store_(store), prefix_(keys.root + "partitions/"), controller_key_(keys.controller) {}

std::string PartitionStore::key(const std::string& log) const { return prefix_ + escape(log); }

Result<std::map<std::string, PartitionState>> PartitionStore::read_all() {
  Result<RangeResult> r = store_.range(prefix_);
  if (!r.ok()) return r.error();
  std::map<std::string, PartitionState> out;
  for (const KeyValue& kv : r->kvs) {
    Result<PartitionState> s = decode(kv);
    if (!s.ok()) return s.error();
    out.emplace(unescape(kv.key.substr(prefix_.size())), std::move(*s));
  }
  return out;
}

Result<std::optional<PartitionState>> PartitionStore::read(const std::string& log) {
  Result<std::optional<KeyValue>> kv = store_.get(key(log));
  if (!kv.ok()) return kv.error();
  if (!*kv) return std::optional<PartitionState>();
  Result<PartitionState> s = decode(**kv);
  if (!s.ok()) return s.error();
  return std::optional<PartitionState>(std::move(*s));
}

Result<bool> PartitionStore::create(const std::string& log, const std::vector<NodeId>& replicas,
                                    Revision controller_revision, const std::map<NodeId, std::string>& incarnations) {
  if (replicas.empty()) return failure("bad replica assignment", "no replica for " + log);
  PartitionState s;
  s.leader = replicas.front();
  s.leader_epoch = LeaderEpoch(1);
  s.replicas = replicas;
  s.isr = replicas;
  for (const NodeId& n : replicas) {
    if (auto it = incarnations.find(n); it != incarnations.end()) s.incarnations[n] = it->second;
  }
  Txn t;
  t.compares.push_back({key(log), Revision(0)});
  t.compares.push_back({controller_key_, controller_revision});
  t.puts.push_back({key(log), encode(s), LeaseId(0)});
  Result<TxnResult> r = store_.txn(t);
  if (!r.ok()) return r.error();
  return r->succeeded;
}

Result<std::optional<PartitionState>> PartitionStore::elect(const std::string& log, const PartitionState& current,
                                                            const std::function<bool(const NodeId&)>& alive,
                                                            Revision controller_revision) {
  return update(log, current, elect_leader(current, alive), controller_revision);
}

Result<std::optional<PartitionState>> PartitionStore::update(const std::string& log, const PartitionState& current,
                                                             PartitionState next, Revision controller_revision) {
  Txn t;
  t.compares.push_back({key(log), Revision(current.version)});
  t.compares.push_back({controller_key_, controller_revision});
  t.puts.push_back({key(log), encode(next), LeaseId(0)});
  Result<TxnResult> r = store_.txn(t);
  if (!r.ok()) return r.error();
  if (!r->succeeded) return std::optional<PartitionState>();
  next.version = r->revision.value;
  return std::optional<PartitionState>(std::move(next));
}

Result<PartitionState> PartitionStore::alter_isr(const std::string& log, const IsrChange& change) {
  Result<std::optional<PartitionState>> current = read(log);
  if (!current.ok()) return current.error();
  if (!*current) return failure("unknown log", log);
  Result<PartitionState> next = apply_isr_change(**current, change);
  if (!next.ok()) return **current;  // refused: the leader adopts the newer state
  Txn t;
  t.compares.push_back({key(log), Revision((*current)->version)});
  t.puts.push_back({key(log), encode(*next), LeaseId(0)});
  Result<TxnResult> r = store_.txn(t);
  if (!r.ok()) return r.error();
  if (!r->succeeded) {
    // Changed between the read and the transaction: what it is now.
    Result<std::optional<PartitionState>> again = read(log);
    if (!again.ok()) return again.error();
    if (!*again) return failure("unknown log", log);
    return **again;
  }
  next->version = r->revision.value;
  return *next;
}

std::vector<NodeId> assign_replicas(std::vector<NodeId> members, const std::string& log,
                                    std::size_t replication_factor) {
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  std::vector<NodeId> out;
  if (members.empty()) return out;
  // FNV-1a: stable across builds and platforms (std::hash is not).
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : log) h = (h ^ ch) * 1099511628211ull;
  std::size_t start = static_cast<std::size_t>(h % members.size());
  for (std::size_t i = 0; i < std::min(replication_factor, members.size()); ++i) {
    out.push_back(members[(start + i) % members.size()]);
  }
  return out;
}

}  // namespace ferry::cluster
