// MqttSession driven without sockets (as stomp_session_test.cc drives
// StompSession): a fake transport records the packets the session writes,
// and a one-shard broker runs on a task queue drained by the test.

#include "session/mqtt_session.h"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <string>

#include "broker/broker.h"
#include "common/clock.h"
#include "session/clients.h"

namespace ferry::session {
namespace {

using namespace std::string_literals;

class QueuedExecutor : public broker::Executor {
 public:
  void post(ShardId, Task task) override { tasks_.push_back(std::move(task)); }
  std::uint32_t shard_count() const override { return 1; }
  void drain() {
    while (!tasks_.empty()) {
      Task t = std::move(tasks_.front());
      tasks_.pop_front();
      t();
    }
  }

 private:
  std::deque<Task> tasks_;
};

class FakeTransport : public net::Transport {
 public:
  std::string& output() override { return out; }
  void output_reference(broker::MessageRef, std::string_view bytes) override { out.append(bytes); }
  void flush() override {}
  void close_after_flush() override { closed = true; }
  void pause_reading() override { paused = true; }
  void resume_reading() override { paused = false; }
  void set_heart_beat(std::uint32_t, std::uint32_t, std::string_view) override {}
  std::uint64_t max_write_buffer() const override { return 1 << 20; }
  std::string peer() const override { return "127.0.0.1:5000"; }
  std::string_view transport_name() const override { return "tcp"; }

  // The bytes written so far, and forgotten.
  std::string take() { return std::exchange(out, {}); }

  std::string out;
  bool closed = false;
  bool paused = false;
};

std::string str(std::string_view s) { return std::string{char(s.size() >> 8), char(s.size() & 0xFF)} + std::string(s); }
std::string packet(unsigned first, const std::string& body) {
  // Bodies here are shorter than 128 bytes: a one-byte remaining length.
  return std::string{char(first), char(body.size())} + body;
}
std::string connect(unsigned level, std::uint16_t keep_alive) {
  return packet(0x10, str("MQTT") + char(level) + "\x02"s + char(keep_alive >> 8) + char(keep_alive & 0xFF) +
                          (level == 5 ? "\x00"s : ""s) + str("c"));
}

class MqttSessionTest : public ::testing::Test {
 protected:
  MqttSessionTest() : broker_(broker_options_, executor_), clients_(broker_) {}

  struct Client {
    FakeTransport transport;
    std::unique_ptr<MqttSession> session;
  };

  std::unique_ptr<Client> open(std::uint64_t id) {
    auto c = std::make_unique<Client>();
    c->session = std::make_unique<MqttSession>(MqttContext{broker_, clients_, nullptr, 1024, 10}, c->transport,
                                               ShardId(0), ConnectionId(id));
    return c;
  }
  std::size_t feed(Client& c, std::string bytes) {
    const std::size_t used = c.session->on_bytes(std::span<char>(bytes.data(), bytes.size()));
    executor_.drain();
    return used;
  }
  std::unique_ptr<Client> connected(std::uint64_t id, unsigned level, std::uint16_t keep_alive = 0) {
    auto c = open(id);
    EXPECT_EQ(feed(*c, connect(level, keep_alive)), connect(level, keep_alive).size());
    const std::string ack = c->transport.take();
    EXPECT_EQ(ack.substr(0, 1), "\x20");
    EXPECT_TRUE(c->session->connected());
    return c;
  }

  broker::BrokerOptions broker_options_;
  QueuedExecutor executor_;
  broker::Broker broker_;
  Clients clients_;
};

TEST_F(MqttSessionTest, KeepAliveClosesAfterOneAndAHalfIntervals) {
  auto c = connected(1, 5, 10);  // keep-alive 10 s
  const std::int64_t start = mono_ms();
  c->session->tick(start + 14'000);
  EXPECT_FALSE(c->transport.closed);
  c->session->tick(start + 15'100);  // past 15 s (and the feed above was before `start`)
  EXPECT_TRUE(c->transport.closed);
  const std::string out = c->transport.take();  // DISCONNECT 0x8D (Keep Alive timeout), with a reason string
  ASSERT_GE(out.size(), 3u);
  EXPECT_EQ(out[0], '\xE0');
  EXPECT_EQ(out[2], '\x8D');
}

TEST_F(MqttSessionTest, KeepAliveZeroNeverCloses) {
  auto c = connected(1, 4, 0);
  c->session->tick(mono_ms() + 3'600'000);
  EXPECT_FALSE(c->transport.closed);
}

TEST_F(MqttSessionTest, APacketSplitAcrossReadsWaitsForItsEnd) {
  auto c = connected(1, 4);
  const std::string ping = "\xC0\x00"s;
  EXPECT_EQ(feed(*c, ping.substr(0, 1)), 0u);  // kept by the connection, offered again
  EXPECT_EQ(c->transport.out, "");
  EXPECT_EQ(feed(*c, ping), 2u);
  EXPECT_EQ(c->transport.take(), "\xD0\x00"s);
}

TEST_F(MqttSessionTest, SubackThenPubackAndDeliveries) {
  auto c = connected(1, 4);
  // SUBSCRIBE a/+ QoS 1: SUBACK once the broker has the subscription.
  EXPECT_EQ(feed(*c, packet(0x82, "\x00\x01"s + str("a/+") + "\x01"s)), 10u);
  EXPECT_EQ(c->transport.take(), "\x90\x03\x00\x01\x01"s);
  // PUBLISH a/b QoS 1 (id 7) and a/c QoS 0 in one read.
  const std::string bytes = packet(0x32, str("a/b") + "\x00\x07"s + "hello") + packet(0x30, str("a/c") + "zero");
  EXPECT_EQ(feed(*c, bytes), bytes.size());
  const std::string out = c->transport.take();
  // PUBACK 7, and the two deliveries (their order relative to the PUBACK is
  // the broker's): QoS 1 with packet id 1, and QoS 0 (the smaller QoS).
  EXPECT_NE(out.find("\x40\x02\x00\x07"s), std::string::npos);
  EXPECT_NE(out.find("\x32\x0c"s + str("a/b") + "\x00\x01"s + "hello"), std::string::npos);
  EXPECT_NE(out.find("\x30\x09"s + str("a/c") + "zero"), std::string::npos);
}

TEST_F(MqttSessionTest, OversizePacketIsDisconnect0x95InMqtt5) {
  auto c = connected(1, 5);
  EXPECT_EQ(feed(*c, "\x30\xFF\x7F"s), 0u);  // 16383 bytes announced; the maximum is 1024
  EXPECT_TRUE(c->transport.closed);
  const std::string out = c->transport.take();  // DISCONNECT 0x95 (Packet too large), with a reason string
  ASSERT_GE(out.size(), 3u);
  EXPECT_EQ(out[0], '\xE0');
  EXPECT_EQ(out[2], '\x95');
}

TEST_F(MqttSessionTest, OversizePacketClosesMqtt311) {
  auto c = connected(1, 4);
  EXPECT_EQ(feed(*c, "\x30\xFF\x7F"s), 0u);
  EXPECT_TRUE(c->transport.closed);
  EXPECT_EQ(c->transport.take(), "");
}

}  // namespace
}  // namespace ferry::session
