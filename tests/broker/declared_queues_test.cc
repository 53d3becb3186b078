#include "broker/declared_queues.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace ferry::broker {
namespace {

// The Error's text, or "" for success.
std::string text_of(const Status& s) { return s ? std::string() : s.error().text(); }

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/ferry-declared-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

TEST(DeclaredQueues, NoFileMeansNone) {
  TempDir d;
  DeclaredQueues q(d.path);
  EXPECT_EQ(text_of(q.load()), "");
  EXPECT_TRUE(q.entries().empty());
}

TEST(DeclaredQueues, AddAndRemoveSurviveAReload) {
  TempDir d;
  {
    DeclaredQueues q(d.path);
    ASSERT_EQ(text_of(q.add("/", "orders")), "");
    ASSERT_EQ(text_of(q.add("shop", "odd \"name\"\n/with\\things")), "");
    ASSERT_EQ(text_of(q.add("/", "gone")), "");
    ASSERT_EQ(text_of(q.add("/", "orders")), "");  // twice: once
    ASSERT_EQ(text_of(q.remove("/", "gone")), "");
    ASSERT_EQ(text_of(q.remove("/", "never")), "");  // not there: nothing to do
  }
  DeclaredQueues again(d.path);
  ASSERT_EQ(text_of(again.load()), "");
  EXPECT_EQ(again.entries(), (std::set<DeclaredQueues::Entry>{{"/", "orders"}, {"shop", "odd \"name\"\n/with\\things"}}));
  EXPECT_FALSE(std::filesystem::exists(d.path + "/declared-queues.json.tmp"));
}

TEST(DeclaredQueues, ABadFileIsAnErrorNamingIt) {
  TempDir d;
  for (const char* text : {"not json", "{\"a\": 1}", "[{\"vhost\": \"/\"}]", "[{\"vhost\": 1, \"name\": \"x\"}]"}) {
    std::ofstream(d.path + "/declared-queues.json") << text;
    DeclaredQueues q(d.path);
    const std::string e = text_of(q.load());
    EXPECT_NE(e.find("declared-queues.json"), std::string::npos) << text;
    EXPECT_TRUE(q.entries().empty()) << text;
  }
}

TEST(DeclaredQueues, AnUnwritableDirectoryIsAnErrorAndChangesNothing) {
  DeclaredQueues q("/nonexistent-ferry-dir");
  EXPECT_NE(text_of(q.add("/", "x")), "");
  EXPECT_TRUE(q.entries().empty());
}

TEST(DeclaredQueues, ArgumentsSurviveAReload) {
  TempDir d;
  QueueArguments args;
  ASSERT_TRUE(args.set("x-max-length", "5").ok());
  ASSERT_TRUE(args.set("x-overflow", "reject-publish").ok());
  {
    DeclaredQueues q(d.path);
    ASSERT_EQ(text_of(q.add("/", "bounded", args)), "");
    ASSERT_EQ(text_of(q.add("/", "plain")), "");
  }
  DeclaredQueues again(d.path);
  ASSERT_EQ(text_of(again.load()), "");
  EXPECT_EQ(again.arguments_of({"/", "bounded"}), args);
  EXPECT_TRUE(again.arguments_of({"/", "plain"}).empty());
  ASSERT_EQ(text_of(again.remove("/", "bounded")), "");
  EXPECT_TRUE(again.arguments_of({"/", "bounded"}).empty());
  // A file whose arguments are not valid is refused, naming it.
  std::ofstream(d.path + "/declared-queues.json")
      << R"([{"vhost": "/", "name": "q", "arguments": {"x-max-length": "many"}}])";
  DeclaredQueues broken(d.path);
  EXPECT_NE(text_of(broken.load()).find("x-max-length"), std::string::npos);
}

TEST(DeclaredQueues, ABatchOfChangesIsWrittenOnce) {
  TempDir d;
  QueueArguments args;
  ASSERT_TRUE(args.set("x-expires", "1000").ok());
  {
    DeclaredQueues q(d.path);
    ASSERT_EQ(text_of(q.add("/", "old")), "");
    ASSERT_EQ(text_of(q.apply({{"/", "a", args}, {"/", "b", QueueArguments()}, {"/", "old", std::nullopt}})), "");
  }
  DeclaredQueues again(d.path);
  ASSERT_EQ(text_of(again.load()), "");
  EXPECT_EQ(again.entries(), (std::set<DeclaredQueues::Entry>{{"/", "a"}, {"/", "b"}}));
  EXPECT_EQ(again.arguments_of({"/", "a"}), args);
}

}  // namespace
}  // namespace ferry::broker
