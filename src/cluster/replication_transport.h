#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cluster/replication_codec.h"
#include "common/result.h"

namespace ferry::cluster {

// Replication between brokers over TCP (the cluster-listen port): frames of
// the replication codec (docs/cluster.md, "Wire format"), on an io_context
// and a thread of its own, never a shard's loop.
//
// Each broker sends only on connections it opens to its peers (one per
// peer, opened on the first message to it and again after a failure) and
// receives only on the connections peers open to it. So a message to node X
// always leaves on this broker's connection to X, whoever spoke first, and
// an address is needed only for where a broker sends (its peers' published
// `cluster` addresses). Delivery is best effort, as the Replica above
// expects: a message to a peer with no known address, or queued while the
// connection fails, is dropped; the follower's fetch times out and asks
// again.
class ReplicationTransport {
 public:
  // Called on the transport's thread with every whole frame received.
  using Receive = std::function<void(WireMessage)>;

  explicit ReplicationTransport(Receive on_message);
  ~ReplicationTransport();
  ReplicationTransport(const ReplicationTransport&) = delete;
  ReplicationTransport& operator=(const ReplicationTransport&) = delete;

  // Binds HOST:PORT (port 0: a free one) before start(). Returns the bound
  // address as HOST:PORT, what the broker publishes in its member key.
  Result<std::string> listen(const std::string& host, std::uint16_t port);
  void start();
  // Closes every connection and joins the thread. Idempotent.
  void stop();

  // Thread-safe: where each peer listens (from the members in etcd). A
  // peer whose address changed is reconnected on its next message.
  void set_peers(const std::map<std::string, std::string>& addresses);
  // On the transport's thread only (from a Receive or posted work).
  void send(const std::string& to, const WireMessage& m);
  // Work for the transport's thread (the replicas live there).
  boost::asio::io_context& io() { return io_; }

  // Bytes queued to one peer beyond which messages to it are dropped (a
  // stalled peer must not grow this broker's memory).
  static constexpr std::size_t kMaxQueuedBytes = 64 * 1024 * 1024;

 private:
  struct Peer;
  struct Inbound;
  void accept();
  void connect(const std::shared_ptr<Peer>& p);
  void flush(const std::shared_ptr<Peer>& p);
  void fail(const std::shared_ptr<Peer>& p);
  void read(const std::shared_ptr<Inbound>& c);

  Receive on_message_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  bool stopped_ = false;
  std::map<std::string, std::shared_ptr<Peer>> peers_;  // the transport's thread only
  std::map<Inbound*, std::weak_ptr<Inbound>> inbound_;  // the transport's thread only

  std::mutex addresses_mutex_;
  std::map<std::string, std::string> addresses_;  // GUARDED_BY(addresses_mutex_)
};

// Splits "HOST:PORT" ("[v6]:PORT" too). nullopt: not that form.
std::optional<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& address);

}  // namespace ferry::cluster
