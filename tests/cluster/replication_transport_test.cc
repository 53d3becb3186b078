#include "cluster/replication_transport.h"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "cluster/replication_node.h"
#include "common/clock.h"

namespace ferry::cluster {
namespace {

using namespace std::chrono_literals;

// Waits (on the test's thread) until `pred`, run on the transport's thread,
// holds; false after 10 s.
template <typename Pred>
bool eventually(ReplicationTransport& t, Pred pred) {
  for (int i = 0; i < 1000; ++i) {
    std::promise<bool> p;
    boost::asio::post(t.io(), [&] { p.set_value(pred()); });
    if (p.get_future().get()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST(ReplicationTransport, SplitHostPort) {
  EXPECT_EQ(split_host_port("127.0.0.1:7000"), std::make_pair(std::string("127.0.0.1"), std::uint16_t(7000)));
  EXPECT_EQ(split_host_port("[::1]:0"), std::make_pair(std::string("::1"), std::uint16_t(0)));
  EXPECT_FALSE(split_host_port("127.0.0.1"));
  EXPECT_FALSE(split_host_port("127.0.0.1:70000"));
  EXPECT_FALSE(split_host_port(":80"));
}

TEST(ReplicationTransport, PortZeroGivesTheBoundAddress) {
  ReplicationTransport t([](WireMessage) {});
  auto bound = t.listen("127.0.0.1", 0);
  ASSERT_TRUE(bound.ok()) << bound.error().text();
  auto hp = split_host_port(*bound);
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->first, "127.0.0.1");
  EXPECT_NE(hp->second, 0);
}

TEST(ReplicationTransport, FramesGoToTheNamedPeerWhicheverSideSpokeFirst) {
  std::mutex m;
  std::vector<WireMessage> at_b;
  std::vector<WireMessage> at_a;
  ReplicationTransport a([&](WireMessage w) {
    std::lock_guard l(m);
    at_a.push_back(std::move(w));
  });
  ReplicationTransport b([&](WireMessage w) {
    std::lock_guard l(m);
    at_b.push_back(std::move(w));
  });
  auto aa = a.listen("127.0.0.1", 0);
  auto ba = b.listen("127.0.0.1", 0);
  ASSERT_TRUE(aa.ok() && ba.ok());
  a.set_peers({{"b", *ba}});
  b.set_peers({{"a", *aa}});
  a.start();
  b.start();
  FetchRequest q{"a", LeaderEpoch(3), 7, LogOffset(5), LeaderEpoch(2)};
  boost::asio::post(a.io(), [&] { a.send("b", WireMessage{"s/x/0", q}); });
  ASSERT_TRUE(eventually(b, [&] {
    std::lock_guard l(m);
    return at_b.size() == 1;
  }));
  {
    std::lock_guard l(m);
    EXPECT_EQ(at_b[0].log, "s/x/0");
    EXPECT_EQ(std::get<FetchRequest>(at_b[0].body), q);
  }
  FetchResponse r;
  r.leader = "b";
  r.leader_epoch = LeaderEpoch(3);
  r.id = 7;
  r.fetch_offset = LogOffset(5);
  r.records = {LogEntry{LeaderEpoch(3), std::string(100'000, 'x')}};  // over one read's buffer
  r.high_watermark = LogOffset(5);
  boost::asio::post(b.io(), [&] { b.send("a", WireMessage{"s/x/0", r}); });
  ASSERT_TRUE(eventually(a, [&] {
    std::lock_guard l(m);
    return at_a.size() == 1;
  }));
  std::lock_guard l(m);
  EXPECT_EQ(std::get<FetchResponse>(at_a[0].body), r);
}

TEST(ReplicationTransport, ABadFrameClosesTheConnection) {
  std::atomic<int> received{0};
  ReplicationTransport t([&](WireMessage) { ++received; });
  auto bound = t.listen("127.0.0.1", 0);
  ASSERT_TRUE(bound.ok());
  t.start();
  auto hp = split_host_port(*bound);
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  s.connect({boost::asio::ip::make_address(hp->first), hp->second});
  std::string junk = std::string("\x05\x00\x00\x00\x09zzzz", 9);  // type 9: unknown
  boost::asio::write(s, boost::asio::buffer(junk));
  char byte;
  boost::system::error_code ec;
  s.read_some(boost::asio::buffer(&byte, 1), ec);  // returns when the broker closes
  EXPECT_EQ(ec, boost::asio::error::eof);
  EXPECT_EQ(received.load(), 0);
}

// A leader and a follower replica of one log, each on its own transport over
// loopback: the follower fetches what the leader appends, each append is
// answered once the follower has it (min-insync 2), and both sides apply
// every confirmed record once, in order.
class TwoNodes : public ::testing::Test {
 protected:
  struct Side {
    std::unique_ptr<ReplicationTransport> transport;
    std::unique_ptr<ReplicationNode> node;
    std::mutex m;
    std::vector<std::pair<std::int64_t, std::string>> applied;  // GUARDED_BY(m)
  };

  void SetUp() override {
    ReplicaOptions options;
    options.min_insync = 2;
    std::map<std::string, std::string> addresses;
    for (const std::string n : {"a", "b"}) {
      Side& s = sides[n];
      // A map's elements stay put: the transport reaches its node through `s`.
      s.transport = std::make_unique<ReplicationTransport>([&s](WireMessage w) { s.node->on_message(std::move(w)); });
      ReplicationNode::Callbacks cb;
      cb.apply = [&s](const std::string&, LogOffset o, const std::string& payload) {
        std::lock_guard l(s.m);
        s.applied.emplace_back(o.value, payload);
      };
      cb.propose = [this](const std::string&, const IsrChange& c) {
        std::lock_guard l(m);
        proposals.push_back(c);
      };
      s.node = std::make_unique<ReplicationNode>(n, options, *s.transport, cb, [] { return mono_ms(); });
      auto bound = s.transport->listen("127.0.0.1", 0);
      ASSERT_TRUE(bound.ok());
      addresses[n] = *bound;
    }
    state.leader = "a";
    state.leader_epoch = LeaderEpoch(1);
    state.replicas = {"a", "b"};
    state.isr = {"a", "b"};
    state.version = 1;
    for (auto& [n, s] : sides) {
      s.transport->set_peers(addresses);
      s.transport->start();
      s.node->start();
    }
  }
  void TearDown() override {
    for (auto& [n, s] : sides) s.transport->stop();
  }
  Result<LogOffset> append(const std::string& node, std::string payload) {
    std::promise<Result<LogOffset>> done;
    sides[node].node->append(log, std::move(payload), [&](Result<LogOffset> r) { done.set_value(std::move(r)); });
    return done.get_future().get();
  }

  const std::string log = "stream/%2F/s";
  std::map<std::string, Side> sides;
  PartitionState state;
  std::mutex m;
  std::vector<IsrChange> proposals;  // GUARDED_BY(m)
};

TEST_F(TwoNodes, FollowerFetchesOverTcpAndTheLeaderAnswersOnceConfirmed) {
  for (auto& [n, s] : sides) s.node->set_state(log, state);
  std::vector<std::string> payloads;
  for (int i = 0; i < 100; ++i) {
    payloads.push_back("m" + std::to_string(i));
    // Each answer comes only once the follower has the record: one at a
    // time, so every one waits for a fetch (the long poll's release).
    auto r = append("a", payloads.back());
    ASSERT_TRUE(r.ok()) << r.error().text();
    EXPECT_EQ(r->value, i);
    ASSERT_TRUE(eventually(*sides["b"].transport, [&] {
      return sides["b"].node->replica(log)->log().end_offset().value > i;
    }));
  }
  // Both apply every record once, in order (the follower as it learns the
  // leader's high watermark).
  for (const std::string n : {"a", "b"}) {
    Side& s = sides[n];
    ASSERT_TRUE(eventually(*s.transport, [&] {
      std::lock_guard l(s.m);
      return s.applied.size() == payloads.size();
    })) << n;
    std::lock_guard l(s.m);
    for (std::size_t i = 0; i < payloads.size(); ++i) {
      EXPECT_EQ(s.applied[i].first, static_cast<std::int64_t>(i));
      EXPECT_EQ(s.applied[i].second, payloads[i]);
    }
  }
  // The follower refuses appends and names the leader.
  auto r = append("b", "x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().text().find("the leader is a"), std::string::npos) << r.error().text();
}

TEST_F(TwoNodes, BelowMinInsyncTheAppendIsRefusedAndNothingIsWritten) {
  state.isr = {"a"};  // b is out: 1 in sync, min-insync 2
  for (auto& [n, s] : sides) s.node->set_state(log, state);
  auto r = append("a", "x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().text().find("not enough in-sync replicas"), std::string::npos) << r.error().text();
  ASSERT_TRUE(eventually(*sides["a"].transport, [&] {
    return sides["a"].node->replica(log)->log().end_offset() == LogOffset(0);
  }));
}

TEST_F(TwoNodes, AnAppendBeforeTheLogIsKnownWaitsForItsState) {
  std::promise<Result<LogOffset>> done;
  sides["a"].node->append(log, "early", [&](Result<LogOffset> r) { done.set_value(std::move(r)); });
  for (auto& [n, s] : sides) s.node->set_state(log, state);
  auto r = done.get_future().get();
  ASSERT_TRUE(r.ok()) << r.error().text();
  EXPECT_EQ(r->value, 0);
}

}  // namespace
}  // namespace ferry::cluster
