// session::MqttRetained: the retained message store of MQTT (docs/mqtt.md,
// "Retained messages"): set, replace, clear, match, bounds, and the file
// read back by a new store (a restart).

#include "session/mqtt_retained.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>

#include "common/clock.h"

namespace ferry::session {
namespace {

broker::MessageRef message(std::string topic, std::string body, std::int64_t expires_ms = 0) {
  broker::Message m;
  m.destination = "/topic/" + topic;
  m.body = std::move(body);
  m.persistent = true;
  m.expires_ms = expires_ms;
  m.headers = {{"x-mqtt-publish-qos", "1"}};
  return broker::make_message(std::move(m));
}

class MqttRetainedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry-retained-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // set() and wait until the file holds it.
  static Status set_written(MqttRetained& r, const std::string& vhost, const std::string& topic,
                            broker::MessageRef m) {
    std::promise<Status> done;
    auto written = done.get_future();
    if (Status s = r.set(vhost, topic, std::move(m), [&done](const Status& st) { done.set_value(st); }); !s)
      return s;
    return written.get();
  }

  std::string dir_;
};

std::vector<std::string> bodies(const std::vector<broker::MessageRef>& ms) {
  std::vector<std::string> out;
  for (const auto& m : ms) out.push_back(m->body);
  return out;
}

TEST_F(MqttRetainedTest, SetReplaceClearAndMatch) {
  MqttRetained r("", {});
  ASSERT_TRUE(r.set("/", "a/1", message("a.1", "one"), {}).ok());
  ASSERT_TRUE(r.set("/", "a/2", message("a.2", "two"), {}).ok());
  ASSERT_TRUE(r.set("/", "a/2", message("a.2", "two again"), {}).ok());
  ASSERT_TRUE(r.set("other", "a/3", message("a.3", "elsewhere"), {}).ok());
  ASSERT_TRUE(r.set("/", "$SYS/x", message("$SYS.x", "system"), {}).ok());
  EXPECT_EQ(bodies(r.matching("/", "a/+")), (std::vector<std::string>{"one", "two again"}));
  EXPECT_EQ(bodies(r.matching("/", "a/1")), (std::vector<std::string>{"one"}));
  EXPECT_EQ(bodies(r.matching("/", "#")), (std::vector<std::string>{"one", "two again"}));  // not $SYS
  EXPECT_EQ(bodies(r.matching("/", "$SYS/#")), (std::vector<std::string>{"system"}));
  EXPECT_EQ(bodies(r.matching("other", "#")), (std::vector<std::string>{"elsewhere"}));
  ASSERT_TRUE(r.set("/", "a/1", message("a.1", ""), {}).ok());  // an empty payload clears
  EXPECT_EQ(bodies(r.matching("/", "a/+")), (std::vector<std::string>{"two again"}));
  EXPECT_EQ(r.count(), 3u);
}

TEST_F(MqttRetainedTest, ExpiredMessagesAreNotSent) {
  MqttRetained r("", {});
  ASSERT_TRUE(r.set("/", "t", message("t", "old", wall_ms() - 1), {}).ok());
  EXPECT_TRUE(r.matching("/", "t").empty());
}

TEST_F(MqttRetainedTest, BoundsRefuseOneMoreTopicOrByte) {
  MqttRetained r("", MqttRetained::Limits{2, 20});
  ASSERT_TRUE(r.set("/", "a", message("a", "1234"), {}).ok());
  ASSERT_TRUE(r.set("/", "b", message("b", "1234"), {}).ok());
  Status third = r.set("/", "c", message("c", "1"), {});
  ASSERT_FALSE(third.ok());
  EXPECT_NE(third.error().text().find("mqtt-max-retained 2"), std::string::npos);
  EXPECT_TRUE(r.set("/", "a", message("a", "12345678"), {}).ok());  // replacing is not one more
  Status big = r.set("/", "b", message("b", std::string(30, 'x')), {});
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().text().find("mqtt-max-retained-bytes"), std::string::npos);
  EXPECT_EQ(bodies(r.matching("/", "b")), (std::vector<std::string>{"1234"}));  // unchanged
  ASSERT_TRUE(r.set("/", "a", message("a", ""), {}).ok());  // clearing makes room
  EXPECT_TRUE(r.set("/", "c", message("c", "1"), {}).ok());
}

TEST_F(MqttRetainedTest, TheFileIsReadBackByTheNextStore) {
  {
    MqttRetained r(dir_, {});
    ASSERT_EQ(r.load().value(), "no MQTT retained messages in " + dir_ + "/mqtt-retained");
    ASSERT_TRUE(set_written(r, "/", "s/1", message("s.1", "kept")).ok());
    ASSERT_TRUE(set_written(r, "v", "s/2", message("s.2", std::string("bin\0ary", 7))).ok());
    ASSERT_TRUE(set_written(r, "/", "s/3", message("s.3", "cleared")).ok());
    ASSERT_TRUE(set_written(r, "/", "s/3", message("s.3", "")).ok());
  }
  MqttRetained again(dir_, {});
  auto loaded = again.load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().text();
  EXPECT_EQ(*loaded, "2 MQTT retained messages from " + dir_ + "/mqtt-retained");
  auto kept = again.matching("/", "s/#");
  ASSERT_EQ(bodies(kept), (std::vector<std::string>{"kept"}));
  EXPECT_EQ(kept[0]->destination, "/topic/s.1");
  EXPECT_EQ(*kept[0]->header("x-mqtt-publish-qos"), "1");
  EXPECT_EQ(bodies(again.matching("v", "s/2")), (std::vector<std::string>{std::string("bin\0ary", 7)}));
}

TEST_F(MqttRetainedTest, ACorruptFileIsAnError) {
  {
    // A record of 16 bytes announced, 5 there (a file cut short).
    const std::string data = std::string("FERRY-RETAINED 1\n") + std::string("\0\0\0\x10", 4) + "short";
    std::FILE* f = std::fopen((dir_ + "/mqtt-retained").c_str(), "w");
    std::fwrite(data.data(), 1, data.size(), f);
    std::fclose(f);
  }
  MqttRetained r(dir_, {});
  EXPECT_FALSE(r.load().ok());
}

}  // namespace
}  // namespace ferry::session
