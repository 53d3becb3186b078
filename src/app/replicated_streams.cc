#include "app/replicated_streams.h"

#include <spdlog/spdlog.h>

#include "broker/stream_store.h"

namespace ferry::app {

namespace {

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_str(std::string& out, const std::string& s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out += s;
}

struct In {
  const std::string& b;
  std::size_t pos = 0;
  bool ok = true;
  std::uint64_t uint(int n) {
    if (!ok || b.size() - pos < static_cast<std::size_t>(n)) {
      ok = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= std::uint64_t(static_cast<unsigned char>(b[pos + i])) << (8 * i);
    pos += n;
    return v;
  }
  std::string str() {
    std::size_t n = uint(4);
    if (!ok || b.size() - pos < n) {
      ok = false;
      return {};
    }
    std::string s = b.substr(pos, n);
    pos += n;
    return s;
  }
};

}  // namespace

std::optional<std::string> ReplicatedStreams::log_name(const broker::Destination& d) {
  auto vhost = broker::StreamStore::escape_name(d.vhost);
  auto name = broker::StreamStore::escape_name(d.name);
  if (!vhost || !name) return std::nullopt;
  return "stream/" + *vhost + "/" + *name;
}

std::optional<broker::Destination> ReplicatedStreams::destination_of(const std::string& log) {
  if (!log.starts_with("stream/")) return std::nullopt;
  const std::string rest = log.substr(7);
  auto slash = rest.find('/');
  if (slash == std::string::npos) return std::nullopt;
  auto vhost = broker::StreamStore::unescape_name(rest.substr(0, slash));
  auto name = broker::StreamStore::unescape_name(rest.substr(slash + 1));
  if (!vhost || !name) return std::nullopt;
  broker::Destination d;
  d.kind = broker::DestinationKind::kStream;
  d.vhost = *vhost;
  d.name = *name;
  return d;
}

std::string ReplicatedStreams::encode_entry(const stream::StreamEntry& e) {
  std::string out;
  out.push_back(e.key ? 1 : 0);
  if (e.key) put_str(out, *e.key);
  const auto ts = static_cast<std::uint64_t>(e.timestamp_ms);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((ts >> (8 * i)) & 0xff));
  put_u32(out, static_cast<std::uint32_t>(e.headers.size()));
  for (const auto& [k, v] : e.headers) {
    put_str(out, k);
    put_str(out, v);
  }
  put_str(out, e.body);
  return out;
}

std::optional<stream::StreamEntry> ReplicatedStreams::decode_entry(const std::string& payload) {
  In in{payload};
  stream::StreamEntry e;
  if (in.uint(1) == 1) e.key = in.str();
  e.timestamp_ms = static_cast<std::int64_t>(in.uint(8));
  std::uint64_t headers = in.uint(4);
  if (headers > payload.size() / 8) return std::nullopt;  // each takes 8 bytes at least
  for (std::uint64_t i = 0; i < headers && in.ok; ++i) {
    std::string k = in.str();
    std::string v = in.str();
    e.headers.emplace_back(std::move(k), std::move(v));
  }
  e.body = in.str();
  if (!in.ok || in.pos != payload.size()) return std::nullopt;
  return e;
}

bool ReplicatedStreams::replicated(const broker::Destination& d) const {
  return d.kind == broker::DestinationKind::kStream && cluster_.replication_enabled();
}

void ReplicatedStreams::append(const broker::Destination& d, const stream::StreamEntry& e,
                               std::function<void(Status)> done) {
  auto log = log_name(d);
  if (!log) return done(failure("invalid stream name", d.to_string()));
  cluster::ClusterService* cluster = &cluster_;
  cluster_.replicate(*log, encode_entry(e), [cluster, done = std::move(done)](Result<cluster::LogOffset> r) {
    if (r) return done({});
    // Led elsewhere: say where its clients reach the leader (forwarding
    // comes later).
    std::string text = r.error().text();
    const std::string tag = "the leader is ";
    if (auto at = text.find(tag); at != std::string::npos) {
      const std::string leader = text.substr(at + tag.size());
      for (const cluster::MemberInfo& m : cluster->view().members)
        if (m.node == leader && !m.stomp.empty()) text += " (STOMP " + m.stomp + ")";
    }
    done(failure("replicated stream", text));
  });
}

void ReplicatedStreams::apply(const std::string& log, cluster::LogOffset offset, const std::string& payload) {
  auto d = destination_of(log);
  auto e = decode_entry(payload);
  if (!d || !e) {
    spdlog::error("cluster: {}: record {} is not a stream entry", log, offset.value);
    return;
  }
  broker_.apply_replicated(*d, static_cast<std::uint64_t>(offset.value), std::move(*e));
}

}  // namespace ferry::app
