// net::WriteTurns: the shard's budget of delivery writes per loop turn
// (issue 18 item 10), driven by hand: posted turns wait in a list the test
// runs, as the loop would after polling its sockets.

#include "net/write_turns.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <vector>

namespace ferry::net {
namespace {

struct Loop {
  std::vector<std::function<void()>> posted;
  WriteTurns::Post post() {
    return [this](std::shared_ptr<WriteTurns> t) { posted.push_back([t] { t->posted_turn(); }); };
  }
  // Runs the turns posted so far (what they post waits for the next call).
  std::size_t run_once() {
    auto now = std::move(posted);
    posted.clear();
    for (auto& f : now) f();
    return now.size();
  }
};

struct Recorder : WriteTurns::Writer {
  Recorder(int id, std::vector<int>& log, std::function<void()> then = {}) : id(id), log(log), then(std::move(then)) {}
  void write_turn() override {
    log.push_back(id);
    if (then) then();
  }
  int id;
  std::vector<int>& log;
  std::function<void()> then;
};

TEST(WriteTurns, AtMostTheBudgetPerTurnInTheOrderQueued) {
  Loop loop;
  auto turns = std::make_shared<WriteTurns>(loop.post(), 3);
  std::vector<int> log;
  for (int i = 0; i < 8; ++i) turns->add(std::make_shared<Recorder>(i, log));
  EXPECT_TRUE(log.empty()) << "a write ran before its turn";
  ASSERT_EQ(loop.posted.size(), 1u) << "one posted turn, however many wait";

  EXPECT_EQ(loop.run_once(), 1u);
  EXPECT_EQ(log, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(turns->waiting(), 5u);
  EXPECT_EQ(loop.run_once(), 1u);
  EXPECT_EQ(log, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(loop.run_once(), 1u);
  EXPECT_EQ(log, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(turns->waiting(), 0u);
  EXPECT_TRUE(loop.posted.empty()) << "a turn posted with nothing waiting";
  EXPECT_EQ(turns->turns(), 3u);
}

TEST(WriteTurns, AWriterAddedDuringATurnWaitsBehindTheOthers) {
  Loop loop;
  auto turns = std::make_shared<WriteTurns>(loop.post(), 2);
  std::vector<int> log;
  // Writer 0's write finds more output and queues it again (as a write
  // completion does): it goes behind 1 and 2, in a later turn.
  auto again = std::make_shared<Recorder>(10, log);
  turns->add(std::make_shared<Recorder>(0, log, [&] { turns->add(again); }));
  turns->add(std::make_shared<Recorder>(1, log));
  turns->add(std::make_shared<Recorder>(2, log));
  loop.run_once();
  EXPECT_EQ(log, (std::vector<int>{0, 1}));
  loop.run_once();
  EXPECT_EQ(log, (std::vector<int>{0, 1, 2, 10}));
  EXPECT_TRUE(loop.posted.empty());
}

TEST(WriteTurns, APostedTurnKeepsTheBudgetAlive) {
  Loop loop;
  std::vector<int> log;
  {
    auto turns = std::make_shared<WriteTurns>(loop.post(), 1);
    turns->add(std::make_shared<Recorder>(0, log));
    turns->add(std::make_shared<Recorder>(1, log));
  }  // the owner (a stopped Server) let go
  loop.run_once();
  loop.run_once();
  EXPECT_EQ(log, (std::vector<int>{0, 1}));
}

// A connection waiting for its turn holds the shard's WriteTurns, which
// holds it: at shutdown the turn never runs, and clear() (Server's
// shutdown_all) lets both go instead of leaving the pair allocated.
TEST(WriteTurns, ClearLetsWaitingWritersAndTheBudgetGo) {
  struct Holder : WriteTurns::Writer {
    void write_turn() override {}
    std::shared_ptr<WriteTurns> turns;
  };
  Loop loop;
  auto turns = std::make_shared<WriteTurns>(loop.post());
  auto w = std::make_shared<Holder>();
  w->turns = turns;
  turns->add(w);
  std::weak_ptr<WriteTurns> budget = turns;
  std::weak_ptr<Holder> writer = w;
  loop.posted.clear();  // the stopped loop drops its posted turn
  turns->clear();
  EXPECT_EQ(turns->waiting(), 0u);
  turns.reset();
  w.reset();
  EXPECT_TRUE(budget.expired());
  EXPECT_TRUE(writer.expired());
}

}  // namespace
}  // namespace ferry::net
