#include "broker/ready_list.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <string>
#include <vector>

namespace ferry::broker {
namespace {

// A message whose body names it, so the order of a list reads as a string.
MessageRef msg(std::string body, std::uint8_t priority = 4) {
  MessageRef ref = make_message();
  Message* m = &ref.writable();
  m->body = std::move(body);
  m->priority = priority;
  return ref;
}

QueueEntry entry(std::string body, std::uint64_t order, std::uint8_t priority = 4) {
  return QueueEntry{msg(std::move(body), priority), order, 0};
}

// Pops everything, in the order a consumer would get it.
std::vector<std::string> drain(ReadyList& list) {
  std::vector<std::string> out;
  while (!list.empty()) out.push_back(list.pop().message->body);
  return out;
}

std::vector<std::string> peek_all(const ReadyList& list) {
  std::vector<std::string> out;
  list.for_each([&](const QueueEntry& e) { out.push_back(e.message->body); });
  return out;
}

using Bodies = std::vector<std::string>;

TEST(ReadyListTest, StartsEmpty) {
  ReadyList list;
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.size(), 0u);
}

TEST(ReadyListTest, FifoWithinOnePriority) {
  ReadyList list;
  list.push(entry("a", 0));
  list.push(entry("b", 1));
  list.push(entry("c", 2));
  EXPECT_EQ(list.size(), 3u);
  EXPECT_EQ(list.front().message->body, "a");
  EXPECT_EQ(drain(list), (Bodies{"a", "b", "c"}));
  EXPECT_TRUE(list.empty());
}

TEST(ReadyListTest, HigherPriorityFirst) {
  ReadyList list;
  list.push(entry("low", 0, 0));
  list.push(entry("mid", 1, 4));
  list.push(entry("high", 2, 9));
  list.push(entry("mid2", 3, 4));
  list.push(entry("low2", 4, 0));
  EXPECT_EQ(list.front().message->body, "high");
  EXPECT_EQ(peek_all(list), (Bodies{"high", "mid", "mid2", "low", "low2"}));
  EXPECT_EQ(drain(list), (Bodies{"high", "mid", "mid2", "low", "low2"}));
}

TEST(ReadyListTest, EveryPriorityLevelIsDistinct) {
  ReadyList list;
  for (int p = 0; p < ReadyList::kPriorities; ++p)
    list.push(entry(std::to_string(p), static_cast<std::uint64_t>(p), static_cast<std::uint8_t>(p)));
  EXPECT_EQ(drain(list), (Bodies{"9", "8", "7", "6", "5", "4", "3", "2", "1", "0"}));
}

TEST(ReadyListTest, PriorityAboveNineCountsAsNine) {
  ReadyList list;
  list.push(entry("nine", 0, 9));
  list.push(entry("two-hundred", 1, 200));
  list.push(entry("eight", 2, 8));
  EXPECT_EQ(drain(list), (Bodies{"nine", "two-hundred", "eight"}));
}

TEST(ReadyListTest, PutBackRestoresOriginalPosition) {
  ReadyList list;
  for (std::uint64_t i = 0; i < 5; ++i) list.push(entry("m" + std::to_string(i), i));
  // A consumer takes the first three, then returns them out of order.
  QueueEntry m0 = list.pop();
  QueueEntry m1 = list.pop();
  QueueEntry m2 = list.pop();
  list.put_back(std::move(m1));
  list.put_back(std::move(m2));
  list.put_back(std::move(m0));
  EXPECT_EQ(list.size(), 5u);
  EXPECT_EQ(drain(list), (Bodies{"m0", "m1", "m2", "m3", "m4"}));
}

TEST(ReadyListTest, PutBackGoesAheadOfNewerMessagesAndPushStillWorksAfter) {
  ReadyList list;
  list.push(entry("old", 0));
  QueueEntry old = list.pop();
  list.push(entry("new", 1));
  list.put_back(std::move(old));
  list.push(entry("newer", 2));
  EXPECT_EQ(drain(list), (Bodies{"old", "new", "newer"}));
}

TEST(ReadyListTest, PutBackKeepsPriority) {
  ReadyList list;
  list.push(entry("high", 0, 9));
  list.push(entry("low", 1, 1));
  QueueEntry high = list.pop();
  list.push(entry("low2", 2, 1));
  list.put_back(std::move(high));
  EXPECT_EQ(drain(list), (Bodies{"high", "low", "low2"}));
}

TEST(ReadyListTest, PutBackKeepsDeliveryCount) {
  ReadyList list;
  list.push(entry("a", 0));
  QueueEntry a = list.pop();
  a.deliveries = 3;
  list.put_back(std::move(a));
  EXPECT_EQ(list.pop().deliveries, 3u);
}

TEST(ReadyListTest, RemoveIfRemovesMatchesAcrossPrioritiesAndSinksEach) {
  ReadyList list;
  list.push(entry("keep1", 0, 9));
  list.push(entry("drop1", 1, 9));
  list.push(entry("drop2", 2, 0));
  list.push(entry("keep2", 3, 0));
  list.push(entry("drop3", 4, 5));
  Bodies sunk;
  list.remove_if([](const QueueEntry& e) { return e.message->body.starts_with("drop"); },
                 [&](const QueueEntry& e) { sunk.push_back(e.message->body); });
  EXPECT_EQ(list.size(), 2u);
  std::sort(sunk.begin(), sunk.end());
  EXPECT_EQ(sunk, (Bodies{"drop1", "drop2", "drop3"}));
  EXPECT_EQ(drain(list), (Bodies{"keep1", "keep2"}));
}

TEST(ReadyListTest, RemoveIfWithNoMatchLeavesListAlone) {
  ReadyList list;
  list.push(entry("a", 0));
  list.push(entry("b", 1));
  int sunk = 0;
  list.remove_if([](const QueueEntry&) { return false; }, [&](const QueueEntry&) { ++sunk; });
  EXPECT_EQ(sunk, 0);
  EXPECT_EQ(drain(list), (Bodies{"a", "b"}));
}

TEST(ReadyListTest, RemoveIfEverythingEmptiesTheList) {
  ReadyList list;
  list.push(entry("a", 0, 1));
  list.push(entry("b", 1, 7));
  list.remove_if([](const QueueEntry&) { return true; }, [](const QueueEntry&) {});
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.size(), 0u);
  list.push(entry("c", 2));
  EXPECT_EQ(drain(list), (Bodies{"c"}));
}

// An idle queue must cost little (issue 18 item 9): a list holds no bucket
// until a message comes, and trim() gives back the ones that emptied (an
// empty std::deque still holds ~600 bytes).
TEST(ReadyListTest, BucketsExistOnlyWhileNeeded) {
  ReadyList list;
  EXPECT_EQ(list.buckets(), 0u);
  list.push(entry("a", 0, 4));
  list.push(entry("b", 1, 9));
  EXPECT_EQ(list.buckets(), 2u);
  EXPECT_EQ(list.pop().message->body, "b");
  EXPECT_EQ(list.trim(), 1u) << "the emptied priority-9 bucket goes";
  EXPECT_EQ(list.buckets(), 1u);
  EXPECT_EQ(drain(list), (Bodies{"a"}));
  EXPECT_EQ(list.trim(), 1u);
  EXPECT_EQ(list.buckets(), 0u);
  list.put_back(entry("c", 0, 4));  // a returned message makes its bucket again
  EXPECT_EQ(list.buckets(), 1u);
  EXPECT_EQ(drain(list), (Bodies{"c"}));
}

TEST(ReadyListExtract, TakesFromTheMiddleInDeliveryOrderAndKeepsTheRest) {
  ReadyList list;
  list.push(entry("a", 1));
  list.push(entry("B", 2));
  list.push(entry("c", 3));
  list.push(entry("D", 4));
  list.push(entry("H", 5, 9));
  list.push(entry("e", 6));
  Bodies taken;
  list.extract(
      [](const QueueEntry& e) {
        return std::isupper(static_cast<unsigned char>(e.message->body[0])) ? ReadyList::Pick::kTake
                                                                             : ReadyList::Pick::kKeep;
      },
      [&](QueueEntry&& e) { taken.push_back(e.message->body); });
  EXPECT_EQ(taken, (Bodies{"H", "B", "D"}));
  EXPECT_EQ(list.size(), 3u);
  EXPECT_EQ(drain(list), (Bodies{"a", "c", "e"}));
}

TEST(ReadyListExtract, StopLeavesTheEntryAndEverythingAfterIt) {
  ReadyList list;
  for (int i = 0; i < 6; ++i) list.push(entry(std::to_string(i), static_cast<std::uint64_t>(i)));
  Bodies taken;
  list.extract(
      [](const QueueEntry& e) {
        if (e.message->body == "4") return ReadyList::Pick::kStop;
        return e.message->body == "1" || e.message->body == "3" ? ReadyList::Pick::kTake : ReadyList::Pick::kKeep;
      },
      [&](QueueEntry&& e) { taken.push_back(e.message->body); });
  EXPECT_EQ(taken, (Bodies{"1", "3"}));
  EXPECT_EQ(drain(list), (Bodies{"0", "2", "4", "5"}));
}

}  // namespace
}  // namespace ferry::broker
