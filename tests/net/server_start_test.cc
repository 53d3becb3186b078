#include "net/server.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <string>

#include "net/open_acceptor.h"
#include "shard/shard_set.h"

// Server::start() answers a listener that cannot be set up with a Status
// naming the option (the operator's spelling), not an exception.
namespace ferry::net {
namespace {

TEST(ServerStart, APortInUseIsAnErrorNamingTheOption) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor taken(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const std::uint16_t port = taken.local_endpoint().port();
  shard::ShardSet shards(1);
  ListenerOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  Server server(o, ProtocolFactory{}, shards);
  Status started = server.start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().text(), "listen 127.0.0.1:" + std::to_string(port) + ": bind: Address already in use");
}

TEST(ServerStart, ATlsListenerWithoutCertificateIsAnError) {
  shard::ShardSet shards(1);
  ListenerOptions o;
  o.port = 0;
  o.tls_listen.host = "127.0.0.1";
  o.tls_listen.port = 0;
  ASSERT_TRUE(o.tls_listen.enabled());
  Server server(o, ProtocolFactory{}, shards);
  Status started = server.start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().text(), "a TLS listener needs tls-cert-file and tls-key-file");
}

TEST(ServerStart, FreePortsStart) {
  shard::ShardSet shards(1);
  ListenerOptions o;
  o.port = 0;
  Server server(o, ProtocolFactory{}, shards);
  ASSERT_TRUE(server.start().ok());
  EXPECT_NE(server.local_endpoint().port(), 0);
  server.stop();
}

}  // namespace
}  // namespace ferry::net

namespace ferry::net {
namespace {

TEST(OpenAcceptor, SaysWhichStepFailed) {
  boost::asio::io_context io;
  auto first = open_acceptor(io, "127.0.0.1", 0);
  ASSERT_TRUE(first);
  const std::uint16_t port = (*first)->local_endpoint().port();
  auto second = open_acceptor(io, "127.0.0.1", port);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().text(), "bind: Address already in use");
  auto bad = open_acceptor(io, "not-an-address", 0);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().text().find("make_address"), std::string::npos) << "asio's own words, no step name";
}

}  // namespace
}  // namespace ferry::net
