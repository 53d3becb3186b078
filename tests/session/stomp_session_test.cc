// StompSession driven without sockets: a fake transport records what the
// session writes, and a one-shard broker runs on a task queue drained by
// the test (as shard_broker_test drives the broker).

#include "session/stomp_session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "session/clients.h"

namespace ferry::session {
namespace {

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
  void output_reference(broker::MessageRef, std::string_view bytes) override {
    out.append(bytes);
    ++references;
  }
  void flush() override {}
  void close_after_flush() override { closed = true; }
  void pause_reading() override { paused = true; }
  void resume_reading() override { paused = false; }
  void set_heart_beat(std::uint32_t send_ms, std::uint32_t recv_ms, std::string_view beat) override {
    hb_send = send_ms;
    hb_recv = recv_ms;
    hb_beat = std::string(beat);
  }
  std::uint64_t max_write_buffer() const override { return 1 << 20; }
  std::string peer() const override { return "127.0.0.1:5000"; }
  std::string_view transport_name() const override { return "tcp"; }

  // The frames written so far, split at NUL, and forgotten.
  std::vector<std::string> take_frames() {
    std::vector<std::string> frames;
    std::size_t start = 0;
    for (std::size_t nul = out.find('\0'); nul != std::string::npos; nul = out.find('\0', start)) {
      std::size_t begin = start;
      while (begin < nul && (out[begin] == '\n' || out[begin] == '\r')) ++begin;  // heart-beats
      frames.push_back(out.substr(begin, nul - begin));
      start = nul + 1;
    }
    out.erase(0, start);
    return frames;
  }

  std::string out;
  int references = 0;  // output_reference calls
  bool closed = false;
  bool paused = false;
  std::uint32_t hb_send = 0, hb_recv = 0;
  std::string hb_beat;
};

std::string command_of(const std::string& frame) { return frame.substr(0, frame.find('\n')); }
bool has_header(const std::string& frame, const std::string& line) {
  return frame.find("\n" + line + "\n") != std::string::npos;
}

class StompSessionTest : public ::testing::Test {
 protected:
  StompSessionTest() : broker_(broker_options_, executor_), clients_(broker_) {}

  struct Client {
    FakeTransport transport;
    std::unique_ptr<StompSession> session;
  };

  std::unique_ptr<Client> open(std::uint64_t id) {
    auto c = std::make_unique<Client>();
    c->session = std::make_unique<StompSession>(StompContext{options_, broker_, clients_, nullptr}, c->transport,
                                                ShardId(0), ConnectionId(id));
    return c;
  }
  // Feeds `bytes` (NUL-terminated frames) and runs the broker's tasks.
  void feed(Client& c, std::string bytes) {
    std::size_t used = c.session->on_bytes(std::span<char>(bytes.data(), bytes.size()));
    EXPECT_EQ(used, bytes.size()) << "unconsumed input";
    executor_.drain();
  }
  std::unique_ptr<Client> connected(std::uint64_t id) {
    auto c = open(id);
    feed(*c, frame("CONNECT\naccept-version:1.2\nheart-beat:0,0\n\n"));
    auto frames = c->transport.take_frames();
    EXPECT_EQ(frames.size(), 1u);
    EXPECT_EQ(command_of(frames.at(0)), "CONNECTED");
    return c;
  }
  static std::string frame(std::string text) { return text + std::string(1, '\0'); }

  StompOptions options_;
  broker::BrokerOptions broker_options_;
  QueuedExecutor executor_;
  broker::Broker broker_;
  Clients clients_;
};

TEST_F(StompSessionTest, ConnectNegotiatesVersionAndHeartBeats) {
  options_.heart_beat_min_ms = 500;
  auto c = open(1);
  feed(*c, frame("CONNECT\naccept-version:1.0,1.1,1.2\nheart-beat:2000,1000\n\n"));
  auto frames = c->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(command_of(frames[0]), "CONNECTED");
  EXPECT_TRUE(has_header(frames[0], "version:1.2"));
  // Each direction: the larger of what the sender can do and the receiver wants.
  EXPECT_TRUE(has_header(frames[0], "heart-beat:1000,2000"));
  EXPECT_EQ(c->transport.hb_send, 1000u);
  EXPECT_EQ(c->transport.hb_recv, 2000u);
  EXPECT_EQ(c->transport.hb_beat, "\n");
  EXPECT_TRUE(c->session->connected());
}

TEST_F(StompSessionTest, FrameBeforeConnectIsAnErrorWithItsReceipt) {
  auto c = open(1);
  feed(*c, frame("SEND\ndestination:/queue/a\nreceipt:r1\n\nx"));
  auto frames = c->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(command_of(frames[0]), "ERROR");
  EXPECT_TRUE(has_header(frames[0], "receipt-id:r1"));
  EXPECT_TRUE(c->transport.closed);
  EXPECT_TRUE(c->session->closing());
}

TEST_F(StompSessionTest, SendReachesASubscriberAndReceiptsComeInFrameOrder) {
  auto consumer = connected(1);
  feed(*consumer, frame("SUBSCRIBE\nid:s1\ndestination:/queue/a\nack:client-individual\nreceipt:sub\n\n"));
  auto frames = consumer->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(has_header(frames[0], "receipt-id:sub"));

  auto producer = connected(2);
  // The SEND waits for its queue's answer; the BEGIN after it needs none,
  // but its RECEIPT still comes second.
  std::string both = frame("SEND\ndestination:/queue/a\nreceipt:r1\n\nhello") + frame("BEGIN\ntransaction:t\nreceipt:r2\n\n");
  std::size_t used = producer->session->on_bytes(std::span<char>(both.data(), both.size()));
  EXPECT_EQ(used, both.size());
  EXPECT_TRUE(producer->transport.take_frames().empty()) << "a RECEIPT before the SEND was answered";
  executor_.drain();
  frames = producer->transport.take_frames();
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_TRUE(has_header(frames[0], "receipt-id:r1"));
  EXPECT_TRUE(has_header(frames[1], "receipt-id:r2"));

  frames = consumer->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(command_of(frames[0]), "MESSAGE");
  EXPECT_TRUE(has_header(frames[0], "subscription:s1"));
  EXPECT_NE(frames[0].find("\n\nhello"), std::string::npos);
  EXPECT_EQ(consumer->session->messages_out(), 1u);
  EXPECT_EQ(producer->session->messages_in(), 1u);
}

TEST_F(StompSessionTest, TopicMessagesShareTheBodyByReferenceWithTheSameFrameBytes) {
  // A fan-out's MESSAGE frames gather a body of 512 bytes or more from the
  // message (no copy per subscriber); the frame each client reads is the
  // same as when the body was copied, per-subscriber headers included.
  auto client_mode = connected(1);
  feed(*client_mode, frame("SUBSCRIBE\nid:s1\ndestination:/topic/t\nack:client-individual\n\n"));
  auto v11 = open(2);
  feed(*v11, frame("CONNECT\naccept-version:1.1\nheart-beat:0,0\n\n"));
  v11->transport.take_frames();
  feed(*v11, frame("SUBSCRIBE\nid:a\\cb\ndestination:/topic/t\n\n"));  // id "a:b"
  auto producer = connected(3);
  const std::string big(1024, 'x');
  feed(*producer, frame("SEND\ndestination:/topic/t\ncolour:blue\ncontent-length:1024\n\n" + big));
  feed(*producer, frame("SEND\ndestination:/topic/t\n\nsmall"));

  auto frames = client_mode->transport.take_frames();
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(command_of(frames[0]), "MESSAGE");
  for (const char* line : {"subscription:s1", "redelivered:false", "destination:/topic/t", "colour:blue",
                           "content-length:1024"})
    EXPECT_TRUE(has_header(frames[0], line)) << line << " in " << frames[0].substr(0, 200);
  EXPECT_NE(frames[0].find("\nack:1-"), std::string::npos);
  EXPECT_NE(frames[0].find("\nmessage-id:"), std::string::npos);
  EXPECT_EQ(frames[0].substr(frames[0].size() - big.size() - 2), "\n\n" + big);
  EXPECT_EQ(frames[1].substr(frames[1].size() - 7), "\n\nsmall");
  EXPECT_EQ(client_mode->transport.references, 1) << "the 1 KB body is referenced, the 5-byte one copied";

  frames = v11->transport.take_frames();
  ASSERT_EQ(frames.size(), 2u);
  for (const auto& f : frames) {
    EXPECT_TRUE(has_header(f, "subscription:a\\cb")) << f.substr(0, 200);  // escaped as 1.1 does
    EXPECT_EQ(f.find("\nack:"), std::string::npos);
  }
  EXPECT_EQ(frames[0].substr(frames[0].size() - big.size() - 2), "\n\n" + big);
  EXPECT_EQ(v11->transport.references, 1);
}

TEST_F(StompSessionTest, AckOfAnUnknownMessageIsAnErrorAndTheHeldOneStays) {
  auto consumer = connected(1);
  feed(*consumer, frame("SUBSCRIBE\nid:s1\ndestination:/queue/a\nack:client-individual\n\n"));
  auto producer = connected(2);
  feed(*producer, frame("SEND\ndestination:/queue/a\n\nm1"));
  auto frames = consumer->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  net::ConnectionInfo info;
  consumer->session->describe(info);
  EXPECT_EQ(info.unacked, 1u);
  feed(*consumer, frame("ACK\nid:1-999\nreceipt:a\n\n"));
  frames = consumer->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(command_of(frames[0]), "ERROR");
  EXPECT_TRUE(has_header(frames[0], "receipt-id:a"));
  // The connection goes: the message it held goes back to the queue, and
  // the next consumer gets it, marked redelivered.
  consumer->session->on_closed();
  executor_.drain();
  auto next = connected(3);
  feed(*next, frame("SUBSCRIBE\nid:s\ndestination:/queue/a\n\n"));
  frames = next->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(has_header(frames[0], "redelivered:true"));
}

TEST_F(StompSessionTest, AbortedTransactionSendsNothingAndCommittedOneDelivers) {
  auto consumer = connected(1);
  feed(*consumer, frame("SUBSCRIBE\nid:s1\ndestination:/queue/t\n\n"));
  auto producer = connected(2);
  feed(*producer, frame("BEGIN\ntransaction:a\n\n") + frame("SEND\ndestination:/queue/t\ntransaction:a\n\ndropped") +
                      frame("ABORT\ntransaction:a\nreceipt:r\n\n"));
  EXPECT_EQ(producer->transport.take_frames().size(), 1u);
  EXPECT_TRUE(consumer->transport.take_frames().empty());
  feed(*producer, frame("BEGIN\ntransaction:b\n\n") + frame("SEND\ndestination:/queue/t\ntransaction:b\n\nkept") +
                      frame("COMMIT\ntransaction:b\nreceipt:c\n\n"));
  auto frames = producer->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(has_header(frames[0], "receipt-id:c"));
  frames = consumer->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_NE(frames[0].find("\n\nkept"), std::string::npos);
}

TEST_F(StompSessionTest, TransactionLimitsAreErrorsNamingTheOption) {
  options_.max_transactions = 1;
  auto c = connected(1);
  feed(*c, frame("BEGIN\ntransaction:a\n\n") + frame("BEGIN\ntransaction:b\n\n"));
  auto frames = c->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(command_of(frames[0]), "ERROR");
  EXPECT_NE(frames[0].find("max-transactions"), std::string::npos);
}

TEST_F(StompSessionTest, ProducerWindowPausesReadingUntilAnswered) {
  options_.producer_window_size = 1000;
  auto c = connected(1);
  std::string sends;
  for (int i = 0; i < 4; ++i) sends += frame("SEND\ndestination:/queue/w\n\n" + std::string(400, 'x'));
  c->session->on_bytes(std::span<char>(sends.data(), sends.size()));
  EXPECT_TRUE(c->transport.paused) << "past the window, reading pauses";
  executor_.drain();
  EXPECT_FALSE(c->transport.paused) << "answered: reading resumes";
}

TEST_F(StompSessionTest, MaxSubscriptionsIsAnError) {
  options_.max_subscriptions = 1;
  auto c = connected(1);
  feed(*c, frame("SUBSCRIBE\nid:1\ndestination:/queue/a\n\n") + frame("SUBSCRIBE\nid:2\ndestination:/queue/b\n\n"));
  auto frames = c->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(command_of(frames[0]), "ERROR");
  EXPECT_NE(frames[0].find("max-subscriptions"), std::string::npos);
}

TEST_F(StompSessionTest, ParseErrorAnswersWithTheSalvagedReceipt) {
  auto c = connected(1);
  std::string bad = "SEND\ndestination:/queue/a\nreceipt:r9\ncontent-length:zz\n\nbody";
  bad.push_back('\0');
  c->session->on_bytes(std::span<char>(bad.data(), bad.size()));  // nothing read after a bad frame
  auto frames = c->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(command_of(frames[0]), "ERROR");
  EXPECT_TRUE(has_header(frames[0], "receipt-id:r9"));
}

TEST_F(StompSessionTest, AnUnfinishedFrameIsLeftForTheNextRead) {
  auto c = connected(1);
  std::string part = "SEND\ndestination:/queue/a\n";
  EXPECT_EQ(c->session->on_bytes(std::span<char>(part.data(), part.size())), 0u);
}

// The parts on their own.

TEST_F(StompSessionTest, ExchangeSubscriptionBindsItsOwnQueueUntilUnsubscribed) {
  auto consumer = connected(1);
  feed(*consumer, frame("SUBSCRIBE\nid:s1\ndestination:/exchange/amq.fanout\nreceipt:sub\n\n"));
  auto frames = consumer->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(has_header(frames[0], "receipt-id:sub"));
  auto bound = broker_.exchanges(ShardId(0)).bindings("/");
  ASSERT_EQ(bound.size(), 1u);
  EXPECT_EQ(bound[0].source, "amq.fanout");
  EXPECT_TRUE(bound[0].destination.name.starts_with("amq.gen-"));

  auto producer = connected(2);
  feed(*producer, frame("SEND\ndestination:/exchange/amq.fanout/any.key\nreceipt:r1\n\nhello"));
  frames = producer->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(has_header(frames[0], "receipt-id:r1"));
  frames = consumer->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(command_of(frames[0]), "MESSAGE");
  EXPECT_TRUE(has_header(frames[0], "destination:/exchange/amq.fanout/any.key"));
  EXPECT_TRUE(has_header(frames[0], "subscription:s1"));

  feed(*consumer, frame("UNSUBSCRIBE\nid:s1\nreceipt:u\n\n"));
  EXPECT_TRUE(broker_.exchanges(ShardId(0)).bindings("/").empty());
  // Nothing routes now: dropped, with its RECEIPT.
  feed(*producer, frame("SEND\ndestination:/exchange/amq.fanout\nreceipt:r2\n\nlost"));
  frames = producer->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(has_header(frames[0], "receipt-id:r2"));
}

TEST_F(StompSessionTest, ExchangeAmqTopicIsTheTopicAndUnknownExchangesAreNotFound) {
  auto consumer = connected(1);
  feed(*consumer, frame("SUBSCRIBE\nid:s1\ndestination:/topic/news\nreceipt:sub\n\n"));
  consumer->transport.take_frames();
  auto producer = connected(2);
  feed(*producer, frame("SEND\ndestination:/exchange/amq.topic/news\nreceipt:r1\n\nhi"));
  auto frames = consumer->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(has_header(frames[0], "destination:/topic/news"));
  EXPECT_TRUE(broker_.exchanges(ShardId(0)).bindings("/").empty()) << "a topic binds nothing";

  feed(*producer, frame("SEND\ndestination:/exchange/nope/k\nreceipt:r2\n\nx"));
  frames = producer->transport.take_frames();
  ASSERT_GE(frames.size(), 1u);
  EXPECT_EQ(command_of(frames.back()), "ERROR");
  EXPECT_TRUE(has_header(frames.back(), "message:not_found"));
  EXPECT_NE(frames.back().find("NOT_FOUND - no exchange 'nope' in vhost '/'"), std::string::npos);
}

class RecordingListener : public Receipts::Listener {
 public:
  void on_answer(std::string_view receipt, SubscriptionNo, bool disconnect) override {
    answers.push_back(std::string(receipt) + (disconnect ? "!" : ""));
  }
  void on_window(bool pause) override { paused = pause; }
  std::vector<std::string> answers;
  bool paused = false;
};

TEST(ReceiptsTest, AnswersInOrderAndStopsAtADisconnect) {
  RecordingListener l;
  Receipts r(l, 100);
  const std::uint64_t a = r.begin("a", 1, 80);
  r.begin("b", 0);
  const std::uint64_t c = r.begin("c", 1, 80);
  EXPECT_TRUE(l.paused);
  r.begin(std::nullopt, 0, 0, /*disconnect=*/true);
  r.begin("after", 0);
  EXPECT_TRUE(l.answers.empty());
  EXPECT_TRUE(r.complete(c));
  r.drain();
  EXPECT_TRUE(l.answers.empty()) << "c is complete but a, before it, is not";
  EXPECT_TRUE(r.complete(a));
  r.drain();
  EXPECT_EQ(l.answers, (std::vector<std::string>{"a", "b", "c", "!"}));
}

TEST(TransactionsTest, LimitsAndUnknownNames) {
  Transactions t(2, 2);
  EXPECT_TRUE(t.begin("a").ok());
  EXPECT_FALSE(t.begin("a").ok());
  EXPECT_TRUE(t.begin("b").ok());
  EXPECT_EQ(t.begin("c").error().message, "too many open transactions on this connection (max-transactions)");
  EXPECT_TRUE(t.join("a").ok());
  EXPECT_TRUE(t.join("a").ok());
  EXPECT_FALSE(t.join("a").ok()) << "a third frame is past max-transaction-size";
  EXPECT_FALSE(t.join("x").ok());
  EXPECT_EQ(*t.join(std::nullopt), nullptr);
  EXPECT_TRUE(t.take("b").ok());
  EXPECT_FALSE(t.take("b").ok());
  EXPECT_FALSE(t.take(std::nullopt).ok());
}

TEST_F(StompSessionTest, FramesPastTheTurnBudgetWaitUnparsedAndKeepTheirOrder) {
  // Fairness (issue 18 item 10): one call parses at most kUnitsPerTurn
  // frames; the connection offers the rest in a later turn. Nothing is
  // lost or reordered across the calls.
  constexpr std::size_t kBudget = net::Protocol::kUnitsPerTurn;
  constexpr std::size_t kFrames = 2 * kBudget + 88;
  auto consumer = connected(1);
  feed(*consumer, frame("SUBSCRIBE\nid:s1\ndestination:/queue/burst\n\n"));
  auto producer = connected(2);
  std::string bytes;
  std::vector<std::size_t> ends;  // where each frame ends
  for (std::size_t i = 0; i < kFrames; ++i) {
    bytes += frame("SEND\ndestination:/queue/burst\nreceipt:r" + std::to_string(i) + "\n\n" + std::to_string(i));
    ends.push_back(bytes.size());
  }
  std::size_t at = 0;
  std::vector<std::size_t> calls;
  while (at < bytes.size()) {
    std::size_t used = producer->session->on_bytes(std::span<char>(bytes.data() + at, bytes.size() - at));
    ASSERT_GT(used, 0u);
    at += used;
    calls.push_back(used);
    // Stopped exactly at a frame's end, and says so only with bytes left.
    EXPECT_NE(std::find(ends.begin(), ends.end(), at), ends.end());
    EXPECT_EQ(producer->session->yielded(), at < bytes.size());
    executor_.drain();
  }
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0], ends[kBudget - 1]);
  EXPECT_EQ(calls[0] + calls[1], ends[2 * kBudget - 1]);

  auto receipts = producer->transport.take_frames();
  ASSERT_EQ(receipts.size(), kFrames);
  for (std::size_t i = 0; i < kFrames; ++i)
    EXPECT_TRUE(has_header(receipts[i], "receipt-id:r" + std::to_string(i))) << i;
  auto messages = consumer->transport.take_frames();
  ASSERT_EQ(messages.size(), kFrames);
  for (std::size_t i = 0; i < kFrames; ++i) {
    const std::string body = messages[i].substr(messages[i].find("\n\n") + 2);
    EXPECT_EQ(body, std::to_string(i));
  }
}

TEST_F(StompSessionTest, ExactlyTheBudgetIsNotAYield) {
  auto producer = connected(1);
  std::string bytes;
  for (std::size_t i = 0; i < net::Protocol::kUnitsPerTurn; ++i)
    bytes += frame("SEND\ndestination:/queue/q\n\nx");
  feed(*producer, bytes);
  EXPECT_FALSE(producer->session->yielded());
}

TEST_F(StompSessionTest, CompositeSendGivesOneReceiptAndEachElementItsOwnCopy) {
  auto consumer = connected(1);
  feed(*consumer, frame("SUBSCRIBE\nid:a\ndestination:/queue/a\n\n"));
  feed(*consumer, frame("SUBSCRIBE\nid:b\ndestination:/queue/b\n\n"));
  feed(*consumer, frame("SUBSCRIBE\nid:t\ndestination:/topic/t\n\n"));
  consumer->transport.take_frames();
  auto producer = connected(2);
  feed(*producer, frame("SEND\ndestination:/queue/a,b,/topic/t\nreceipt:r1\n\nhello"));
  auto frames = producer->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(has_header(frames[0], "receipt-id:r1"));
  frames = consumer->transport.take_frames();
  ASSERT_EQ(frames.size(), 3u);
  std::vector<std::string> seen;
  for (const std::string& f : frames) {
    EXPECT_EQ(command_of(f), "MESSAGE");
    for (std::string d : {"/queue/a", "/queue/b", "/topic/t"})
      if (has_header(f, "destination:" + d)) seen.push_back(d);
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"/queue/a", "/queue/b", "/topic/t"}));
  EXPECT_EQ(producer->session->messages_in(), 1u);  // one SEND
}

TEST_F(StompSessionTest, CompositeSendWithABadElementSendsNothing) {
  auto consumer = connected(1);
  feed(*consumer, frame("SUBSCRIBE\nid:a\ndestination:/queue/a\n\n"));
  consumer->transport.take_frames();
  auto producer = connected(2);
  feed(*producer, frame("SEND\ndestination:/queue/a,/nowhere/x\nreceipt:r1\n\nhello"));
  auto frames = producer->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(command_of(frames[0]), "ERROR");
  EXPECT_NE(frames[0].find("'/nowhere/x'"), std::string::npos) << frames[0];
  EXPECT_TRUE(consumer->transport.take_frames().empty());
}

TEST_F(StompSessionTest, TemporaryTopicReplyToIsRewrittenAndSubscribed) {
  auto requester = connected(1);
  feed(*requester, frame("SEND\ndestination:/queue/service\nreply-to:/temp-topic/r\nreceipt:r1\n\nping"));
  requester->transport.take_frames();
  auto replier = connected(2);
  feed(*replier, frame("SUBSCRIBE\nid:s\ndestination:/queue/service\n\n"));
  auto frames = replier->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  const std::size_t at = frames[0].find("\nreply-to:/remote-temp-topic/amq.gen-");
  ASSERT_NE(at, std::string::npos) << frames[0];
  const std::string reply_to = frames[0].substr(at + 10, frames[0].find('\n', at + 1) - at - 10);
  feed(*replier, frame("SEND\ndestination:" + reply_to + "\nreceipt:r2\n\npong"));
  frames = requester->transport.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(command_of(frames[0]), "MESSAGE");
  EXPECT_TRUE(has_header(frames[0], "subscription:/temp-topic/r"));
  // Only its connection reads it.
  feed(*replier, frame("SUBSCRIBE\nid:spy\ndestination:" + reply_to + "\n\n"));
  frames = replier->transport.take_frames();
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(command_of(frames.back()), "ERROR");
}

}  // namespace
}  // namespace ferry::session
