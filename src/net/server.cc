#include "net/server.h"

#include <boost/asio/write.hpp>
#include <unistd.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "net/errors.h"
#include "stomp/encoder.h"

namespace ferry::net {

namespace asio = boost::asio;
using asio::ip::tcp;

class Server::ShardClients final : public broker::ClientEvents {
 public:
  ShardClients(Server& server, ShardId shard) : server_(server), shard_(shard) {}

  void add(std::shared_ptr<Connection> c) { connections_.emplace(c->id(), std::move(c)); }
  void remove(ConnectionId id) { connections_.erase(id); }
  ConnectionId next_id() { return ConnectionId((std::uint64_t{shard_.value} << 48) | ++counter_); }

  void tick(std::int64_t now) {
    // tick() may close (and remove) connections: iterate over a snapshot.
    std::vector<std::shared_ptr<Connection>> all;
    all.reserve(connections_.size());
    for (auto& [id, c] : connections_) all.push_back(c);
    for (auto& c : all) c->tick(now);
  }
  void shutdown_all() {
    for (auto& [id, c] : connections_) c->shutdown();
    connections_.clear();
  }

  std::size_t size() const { return connections_.size(); }
  template <typename Fn>
  void for_each(Fn fn) const {
    for (const auto& [id, c] : connections_) fn(*c);
  }
  Connection* find(ConnectionId id) {
    auto it = connections_.find(id);
    return it == connections_.end() ? nullptr : it->second.get();
  }

  void deliver(ConnectionId c, SubscriptionNo sub, broker::Delivery d) override {
    if (auto* conn = find(c)) conn->session().on_delivery(sub, std::move(d));
  }
  void complete(ConnectionId c, std::uint64_t op, broker::Outcome outcome) override {
    if (auto* conn = find(c)) conn->session().on_complete(op, std::move(outcome));
  }
  void kick(ConnectionId c, SubscriptionNo sub, std::string reason) override {
    if (auto* conn = find(c)) conn->session().on_kick(sub, std::move(reason));
  }

 private:
  Server& server_;
  ShardId shard_;
  std::uint64_t counter_ = 0;
  std::unordered_map<ConnectionId, std::shared_ptr<Connection>> connections_;
};

Server::Server(const ServerOptions& options, shard::ShardSet& shards, broker::Broker& broker)
    : options_(options), shards_(shards), broker_(broker) {
  for (std::uint32_t i = 0; i < shards.shard_count(); ++i) {
    clients_.push_back(std::make_unique<ShardClients>(*this, ShardId(i)));
    broker_.set_client_events(ShardId(i), clients_.back().get());
  }
}

Server::~Server() {
  for (std::uint32_t i = 0; i < clients_.size(); ++i) broker_.set_client_events(ShardId(i), nullptr);
}

void Server::start() {
  auto addr = asio::ip::make_address(options_.listen_host);
  tcp::endpoint ep(addr, options_.listen_port);
  acceptor_ = std::make_unique<tcp::acceptor>(shards_.io(ShardId(0)));
  acceptor_->open(ep.protocol());
  acceptor_->set_option(tcp::acceptor::reuse_address(true));
  acceptor_->bind(ep);
  acceptor_->listen(asio::socket_base::max_listen_connections);
  accept();
}

tcp::endpoint Server::local_endpoint() const { return acceptor_->local_endpoint(); }

void Server::accept() {
  acceptor_->async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors and the like: log, back off briefly by re-arming.
      spdlog::warn("accept failed: {}", ec.message());
      accept();
      return;
    }
    if (open_connections_.load(std::memory_order_relaxed) >= options_.max_connections) {
      spdlog::warn("refusing connection: max-connections ({}) reached", options_.max_connections);
      std::string frame;
      stomp::Encoder::begin_frame(frame, stomp::Command::kError);
      stomp::Encoder::add_header(frame, "message", errors::kTooManyConnections, stomp::Version::k1_0,
                                 stomp::Command::kError);
      stomp::Encoder::end_headers(frame, 0, false);
      stomp::Encoder::end_frame(frame);
      boost::system::error_code wec;
      // Best effort and bounded: one small frame into an empty socket buffer.
      socket.non_blocking(true, wec);
      asio::write(socket, asio::buffer(frame), wec);
      socket.shutdown(tcp::socket::shutdown_send, wec);
      socket.close(wec);
      accept();
      return;
    }
    open_connections_.fetch_add(1, std::memory_order_relaxed);
    ShardId target(next_shard_++ % shards_.shard_count());
    auto fd = socket.release();
    shards_.post(target, [this, target, fd] { adopt(target, fd); });
    accept();
  });
}

void Server::adopt(ShardId shard, tcp::socket::native_handle_type fd) {
  ShardClients& table = *clients_[shard.value];
  tcp::socket socket(shards_.io(shard));
  boost::system::error_code ec;
  socket.assign(tcp::v4(), fd, ec);
  if (ec) socket.assign(tcp::v6(), fd, ec);
  if (ec) {
    ::close(fd);
    open_connections_.fetch_sub(1, std::memory_order_relaxed);
    return;
  }
  auto conn = std::make_shared<Connection>(std::move(socket), options_, broker_, shard, table.next_id(),
                                           [this, &table](ConnectionId id) {
                                             table.remove(id);
                                             open_connections_.fetch_sub(1, std::memory_order_relaxed);
                                           });
  table.add(conn);
  conn->start();
}

void Server::tick(ShardId shard, std::int64_t now_ms) { clients_[shard.value]->tick(now_ms); }

std::vector<ConnectionInfo> Server::connections(ShardId shard) const {
  std::vector<ConnectionInfo> out;
  clients_[shard.value]->for_each([&](Connection& c) {
    Session& s = c.session();
    ConnectionInfo i;
    i.id = c.id();
    i.client_address = c.peer();
    i.user = s.user();
    i.vhost = s.vhost();
    i.protocol = "STOMP " + std::string(stomp::to_string(s.version()));
    i.transport = std::string(c.transport_name());
    i.connected_at_ms = s.connected_at_ms();
    i.connected = s.connected();
    i.subscriptions = s.subscription_count();
    i.unacked = s.unacked_count();
    i.messages_in = s.messages_in();
    i.messages_out = s.messages_out();
    i.rate_in = c.rate_in();
    i.rate_out = c.rate_out();
    i.subscription_list = s.subscriptions();
    out.push_back(std::move(i));
  });
  return out;
}

std::size_t Server::connection_count(ShardId shard) const { return clients_[shard.value]->size(); }

bool Server::close_connection(ShardId shard, ConnectionId id) {
  Connection* c = clients_[shard.value]->find(id);
  if (c == nullptr) return false;
  spdlog::info("connection {} ({}): closed by administrator", id.value, c->peer());
  c->session().fail(errors::kClosedByAdministrator);
  return true;
}

void Server::stop() {
  if (acceptor_) {
    boost::system::error_code ec;
    acceptor_->close(ec);
  }
  for (auto& c : clients_) c->shutdown_all();
}

}  // namespace ferry::net
