#include "broker/queue_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

namespace ferry::broker {
namespace {

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/ferry-queue-log-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Appends and waits until the record is durable; returns its status text.
std::string created(QueueLog& log, std::string vhost, std::string name) {
  std::promise<std::string> p;
  log.created(std::move(vhost), std::move(name), [&](const Status& s) { p.set_value(s ? "" : s.error().text()); });
  return p.get_future().get();
}
std::string deleted(QueueLog& log, std::string vhost, std::string name) {
  std::promise<std::string> p;
  log.deleted(std::move(vhost), std::move(name), [&](const Status& s) { p.set_value(s ? "" : s.error().text()); });
  return p.get_future().get();
}

TEST(QueueLog, NoFileMeansNone) {
  TempDir d;
  QueueLog log(d.path, true);
  ASSERT_TRUE(log.open());
  EXPECT_TRUE(log.entries().empty());
}

TEST(QueueLog, CreationsAndDeletionsFoldAtTheNextOpen) {
  TempDir d;
  static constexpr char kOdd[] = "odd \"name\"\n/with\\things\0and a NUL";
  const std::string odd(kOdd, sizeof(kOdd) - 1);  // names are raw bytes
  {
    QueueLog log(d.path, true);
    ASSERT_TRUE(log.open());
    EXPECT_EQ(created(log, "/", "orders"), "");
    EXPECT_EQ(created(log, "shop", odd), "");
    EXPECT_EQ(created(log, "/", "gone"), "");
    EXPECT_EQ(deleted(log, "/", "gone"), "");
    EXPECT_EQ(created(log, "/", "back"), "");
    EXPECT_EQ(deleted(log, "/", "back"), "");
    EXPECT_EQ(created(log, "/", "back"), "");  // made again after its deletion
    EXPECT_EQ(log.appended(), 7u);
  }
  QueueLog log(d.path, true);
  auto opened = log.open();
  ASSERT_TRUE(opened) << opened.error().text();
  const std::set<QueueLog::Entry> want{{"/", "orders"}, {"shop", odd}, {"/", "back"}};
  EXPECT_EQ(log.entries(), want);
  // Compacted: one creation record per live queue, nothing else.
  const std::string text = read(d.path + "/queues.log");
  EXPECT_EQ(std::count(text.begin(), text.end(), '+'), 3);
  EXPECT_EQ(text.find("gone"), std::string::npos);
}

TEST(QueueLog, ATornTailIsCutOffAndReported) {
  TempDir d;
  {
    QueueLog log(d.path, true);
    ASSERT_TRUE(log.open());
    EXPECT_EQ(created(log, "/", "kept"), "");
    EXPECT_EQ(created(log, "/", "torn"), "");
  }
  std::string text = read(d.path + "/queues.log");
  text.resize(text.size() - 3);  // a write cut short by a crash
  std::ofstream(d.path + "/queues.log", std::ios::binary | std::ios::trunc) << text;
  QueueLog log(d.path, true);
  auto opened = log.open();
  ASSERT_TRUE(opened);
  EXPECT_NE(opened->find("cut off"), std::string::npos) << *opened;
  EXPECT_EQ(log.entries(), (std::set<QueueLog::Entry>{{"/", "kept"}}));
}

TEST(QueueLog, ACorruptRecordDoesNotCount) {
  TempDir d;
  {
    QueueLog log(d.path, true);
    ASSERT_TRUE(log.open());
    EXPECT_EQ(created(log, "/", "abc"), "");
  }
  std::string text = read(d.path + "/queues.log");
  text[text.size() - 2] = 'x';  // "abc" -> "abx": the CRC no longer matches
  std::ofstream(d.path + "/queues.log", std::ios::binary | std::ios::trunc) << text;
  QueueLog log(d.path, true);
  auto opened = log.open();
  ASSERT_TRUE(opened);
  EXPECT_TRUE(log.entries().empty());
  EXPECT_NE(opened->find("cut off at offset 0"), std::string::npos) << *opened;
}

TEST(QueueLog, FlushWaitsForWhatCameBefore) {
  TempDir d;
  QueueLog log(d.path, false);
  ASSERT_TRUE(log.open());
  log.created("/", "a", {});
  std::promise<void> p;
  log.flush([&](const Status&) { p.set_value(); });
  p.get_future().get();
  EXPECT_NE(read(d.path + "/queues.log").find("/a\n"), std::string::npos);
}

}  // namespace
}  // namespace ferry::broker
