#include "net/output_queue.h"

#include "broker/message_pool.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace ferry::net {
namespace {

std::string joined(const OutputQueue::Batch& b) {
  std::string s;
  for (const auto& buf : b.buffers()) s.append(static_cast<const char*>(buf.data()), buf.size());
  return s;
}

// A message whose body is `body` (the owner of referenced bytes).
broker::MessageRef message(std::string body) {
  broker::MessageRef m = broker::make_message();
  m.writable().body = std::move(body);
  return m;
}

TEST(OutputQueue, TextOnlyIsOneBuffer) {
  OutputQueue q;
  q.text() += "MESSAGE\n\nabc";
  q.text().push_back('\0');
  EXPECT_EQ(q.size(), 13u);
  OutputQueue::Batch b;
  q.take(b);
  EXPECT_TRUE(q.empty());
  ASSERT_EQ(b.buffers().size(), 1u);
  EXPECT_EQ(b.size(), 13u);
  EXPECT_EQ(joined(b), std::string("MESSAGE\n\nabc\0", 13));
}

TEST(OutputQueue, ReferencesKeepOrderWithTextAroundThem) {
  OutputQueue q;
  auto body1 = message(std::string(20000, 'x'));
  auto body2 = message(std::string(30000, 'y'));
  q.text() += "H1\n\n";
  q.add_reference(body1, body1->body);
  q.text() += "|H2\n\n";
  q.add_reference(body2, body2->body);
  q.text() += "|end";
  EXPECT_EQ(q.size(), 4 + 20000 + 5 + 30000 + 4u);
  OutputQueue::Batch b;
  q.take(b);
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(b.buffers().size(), 5u);
  EXPECT_EQ(joined(b), "H1\n\n" + body1->body + "|H2\n\n" + body2->body + "|end");
  EXPECT_EQ(b.size(), joined(b).size());
}

TEST(OutputQueue, BatchKeepsReferencedBytesAlive) {
  OutputQueue q;
  OutputQueue::Batch b;
  {
    auto body = message(std::string(17000, 'z'));
    q.add_reference(body, body->body);
  }  // the only other owner is gone
  q.take(b);
  EXPECT_EQ(joined(b), std::string(17000, 'z'));
}

TEST(OutputQueue, FramesQueuedDuringAWriteGoInTheNextBatch) {
  OutputQueue q;
  q.text() += "first";
  OutputQueue::Batch writing;
  q.take(writing);
  q.text() += "second";  // while `writing` is on the wire
  EXPECT_EQ(joined(writing), "first");
  q.recycle(writing);
  EXPECT_EQ(writing.size(), 0u);
  OutputQueue::Batch next;
  q.take(next);
  EXPECT_EQ(joined(next), "second");
  q.recycle(next);
  q.shrink(next);
  EXPECT_TRUE(q.empty());
}

TEST(OutputQueue, ReferencedBytesAtTheStartAndBackToBack) {
  OutputQueue q;
  auto a = message("aaaa");
  auto b = message("bbbbbb");
  q.add_reference(a, a->body);
  q.add_reference(b, b->body);
  q.text() += "t";
  q.add_reference(a, a->body);
  OutputQueue::Batch batch;
  q.take(batch);
  ASSERT_EQ(batch.buffers().size(), 4u);  // no empty text pieces between them
  EXPECT_EQ(joined(batch), "aaaabbbbbbtaaaa");
  EXPECT_EQ(batch.size(), 15u);
}

TEST(OutputQueue, ReferencesSurviveTheTextGrowingAfterThem) {
  // The text is reallocated while it grows: the pieces around a reference
  // are found by offset when the batch is taken.
  OutputQueue q;
  auto body = message(std::string(600, 'b'));
  q.text() += "head\n\n";
  q.add_reference(body, body->body);
  for (int i = 0; i < 1000; ++i) q.text() += "0123456789";
  OutputQueue::Batch batch;
  q.take(batch);
  std::string tail;
  for (int i = 0; i < 1000; ++i) tail += "0123456789";
  EXPECT_EQ(joined(batch), "head\n\n" + body->body + tail);
  EXPECT_EQ(q.size(), 0u);
}

TEST(OutputQueue, ManyReferencesInOneBatchKeepOneTextBuffer) {
  // A fan-out queues a body reference per message: the frames' text between
  // them stays one string (one allocation however many references).
  OutputQueue q;
  auto body = message(std::string(1024, 'x'));
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    q.text() += "MESSAGE\n\n";
    q.add_reference(body, body->body);
    q.text().push_back('\0');
    expected += "MESSAGE\n\n" + body->body + '\0';
  }
  EXPECT_EQ(q.size(), expected.size());
  OutputQueue::Batch batch;
  q.take(batch);
  EXPECT_EQ(batch.buffers().size(), 201u);
  EXPECT_EQ(joined(batch), expected);
  q.recycle(batch);
  EXPECT_EQ(batch.size(), 0u);
  EXPECT_TRUE(batch.buffers().empty());
}

TEST(OutputQueue, RecycledBatchReleasesItsReferences) {
  OutputQueue q;
  auto body = message(std::string(700, 'r'));
  q.add_reference(body, body->body);
  OutputQueue::Batch batch;
  q.take(batch);
  q.recycle(batch);
  // The batch held the last other reference: the message goes back to this
  // thread's pool with the last one here.
  const std::size_t pooled = broker::MessagePool::cached_here();
  body.reset();
  EXPECT_EQ(broker::MessagePool::cached_here(), pooled + 1);
}

}  // namespace
}  // namespace ferry::net
