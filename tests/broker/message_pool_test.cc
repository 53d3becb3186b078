#include "broker/message_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "broker/message.h"

namespace ferry::broker {
namespace {

// Fills a message as a SEND does.
MessageRef filled(std::size_t body_bytes, char fill = 'x') {
  MessageRef ref = make_message();
  Message& m = ref.writable();
  m.id = MessageId(7);
  m.id_text = "ID:ferry-0-123456789012";
  m.destination = "/queue/a-rather-long-queue-name";
  m.body.assign(body_bytes, fill);
  m.headers.emplace_back("content-type", "text/plain");
  m.priority = 9;
  m.expires_ms = 5;
  m.persistent = true;
  m.encoded_headers_1_2 = "destination:/queue/a-rather-long-queue-name\n";
  return ref;
}

TEST(MessagePool, AReleasedMessageComesBackEmptyWithItsBuffers) {
  const char* body = nullptr;
  const char* id_text = nullptr;
  {
    MessageRef m = filled(1000);
    body = m->body.data();
    id_text = m->id_text.data();
  }
  MessageRef again = make_message();
  const Message& m = *again;
  EXPECT_EQ(m.id, MessageId());
  EXPECT_TRUE(m.id_text.empty());
  EXPECT_TRUE(m.destination.empty());
  EXPECT_TRUE(m.body.empty());
  EXPECT_TRUE(m.headers.empty());
  EXPECT_TRUE(m.encoded_headers_1_2.empty());
  EXPECT_EQ(m.priority, 4);
  EXPECT_EQ(m.expires_ms, 0);
  EXPECT_FALSE(m.persistent);
  // The same storage: refilling it needs no new buffers.
  EXPECT_EQ(m.body.data(), body);
  EXPECT_EQ(m.id_text.data(), id_text);
  EXPECT_GE(m.body.capacity(), 1000u);
}

TEST(MessagePool, SteadyTrafficMakesNoNewMessages) {
  // Warm up with as many messages as are ever alive at once below.
  { std::vector<MessageRef> warm(64); for (auto& m : warm) m = filled(1024); }
  const std::size_t cached = MessagePool::cached_here();
  std::vector<const Message*> seen;
  for (int round = 0; round < 1000; ++round) {
    std::vector<MessageRef> alive;
    for (int i = 0; i < 64; ++i) alive.push_back(filled(1024));
    for (const auto& m : alive) seen.push_back(m.get());
  }
  EXPECT_EQ(MessagePool::cached_here(), cached);
  // Every message of every round was one of the 64 warmed up.
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  EXPECT_LE(seen.size(), 64u);
}

TEST(MessagePool, CopiesShareAndTheLastOneRecycles) {
  MessageRef a = filled(10);
  const std::size_t before = MessagePool::cached_here();
  MessageRef b = a;
  MessageRef c = std::move(b);
  EXPECT_FALSE(b);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(a, c);
  EXPECT_EQ(c->body, std::string(10, 'x'));
  a.reset();
  EXPECT_EQ(MessagePool::cached_here(), before);  // c still holds it
  c.reset();
  EXPECT_EQ(MessagePool::cached_here(), before + 1);
}

TEST(MessagePool, MessagesReleasedOnAnotherThreadReturnToTheirPool) {
  std::vector<MessageRef> made;
  std::vector<const Message*> addresses;
  for (int i = 0; i < 100; ++i) {
    made.push_back(filled(100));
    addresses.push_back(made.back().get());
  }
  const std::size_t before = MessagePool::cached_here();
  std::thread consumer([moved = std::move(made)]() mutable { moved.clear(); });
  consumer.join();
  EXPECT_EQ(MessagePool::cached_here(), before + 100);
  std::sort(addresses.begin(), addresses.end());
  for (int i = 0; i < 100; ++i) {
    MessageRef m = make_message();
    EXPECT_TRUE(std::binary_search(addresses.begin(), addresses.end(), m.get()));
    m.writable().body = "reused";
    made.push_back(std::move(m));
  }
}

TEST(MessagePool, LargeBodiesGiveTheirBufferBack) {
  { MessageRef big = filled(MessagePool::kMaxKeptBody + 1); }
  MessageRef again = make_message();
  EXPECT_LE(again->body.capacity(), MessagePool::kMaxKeptBody);
}

TEST(MessagePool, IdleMessagesAreBounded) {
  std::vector<MessageRef> many;
  // 16 KB bodies: far more than kMaxCachedBytes in all.
  const std::size_t n = 2 * MessagePool::kMaxCachedBytes / (16 * 1024);
  for (std::size_t i = 0; i < n; ++i) many.push_back(filled(16 * 1024));
  many.clear();
  EXPECT_LT(MessagePool::cached_here(), MessagePool::kMaxCachedBytes / (16 * 1024));
}

TEST(MessagePool, CopyingAMessageIntoANewOne) {
  MessageRef a = filled(20, 'q');
  MessageRef b = make_message(*a);
  EXPECT_NE(a, b);
  EXPECT_EQ(b->body, a->body);
  EXPECT_EQ(b->headers, a->headers);
  EXPECT_EQ(b->priority, 9);
  Message moved;
  moved.body = "moved";
  MessageRef c = make_message(std::move(moved));
  EXPECT_EQ(c->body, "moved");
}

}  // namespace
}  // namespace ferry::broker

namespace ferry::broker {
namespace {

TEST(MessagePool, HeaderSlotsReuseTheStringsOfAnEarlierMessage) {
  const std::string long_value(40, 'v');  // past std::string's inline buffer
  const char* value_buffer = nullptr;
  {
    MessageRef m = make_message_with_header_slots(2);
    Message& w = m.writable();
    ASSERT_EQ(w.headers.size(), 2u);
    w.headers[0] = {"content-type", long_value};
    w.headers.resize(1);
    value_buffer = w.headers[0].second.data();
  }
  MessageRef again = make_message_with_header_slots(3);
  ASSERT_EQ(again->headers.size(), 3u);
  for (const auto& [k, v] : again->headers) {
    EXPECT_TRUE(k.empty());
    EXPECT_TRUE(v.empty());
  }
  // Some slot holds the earlier value's buffer, ready for the same length.
  bool reused = false;
  for (const auto& [k, v] : again->headers) reused = reused || v.data() == value_buffer;
  EXPECT_TRUE(reused);
  // A plain new message starts with no headers at all.
  MessageRef plain = make_message();
  EXPECT_TRUE(plain->headers.empty());
}

}  // namespace
}  // namespace ferry::broker
