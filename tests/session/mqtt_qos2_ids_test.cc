// session::MqttQos2Ids and its file (session::MqttStateFile): the open
// QoS 2 flows of persistent sessions, read back by a new store (a restart,
// docs/mqtt.md "Across a broker restart").

#include "session/mqtt_qos2_ids.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <string>

#include "common/clock.h"

namespace ferry::session {
namespace {

class MqttQos2IdsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry-qos2-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static void save_written(MqttQos2Ids& ids, const std::string& key, const MqttQos2Ids::Flows& flows,
                           std::uint32_t expiry_s) {
    std::promise<bool> done;
    ids.save(key, flows, expiry_s, [&](const Status& st) { done.set_value(static_cast<bool>(st)); });
    ASSERT_TRUE(done.get_future().get());
  }

  std::string dir_;
};

TEST_F(MqttQos2IdsTest, SavedFlowsComeBackAfterARestart) {
  {
    MqttQos2Ids ids(dir_);
    ASSERT_TRUE(ids.load());
    save_written(ids, "/\nsensor-1", {{7, 9}, {3}}, 3600);
    save_written(ids, "/\nsensor-2", {{1}, {}}, 3600);
    save_written(ids, "/\nsensor-2", {}, 3600);  // its flows ended: nothing kept
  }
  MqttQos2Ids again(dir_);
  auto loaded = again.load();
  ASSERT_TRUE(loaded) << loaded.error().text();
  MqttQos2Ids::Flows f = again.take("/\nsensor-1");
  EXPECT_EQ(f.received, (MqttQos2Ids::Ids{7, 9}));
  EXPECT_EQ(f.released, (MqttQos2Ids::Ids{3}));
  EXPECT_TRUE(again.take("/\nsensor-2").empty());
}

TEST_F(MqttQos2IdsTest, ParkedFlowsExpireWithTheSessionAcrossARestart) {
  {
    MqttQos2Ids ids(dir_);
    ASSERT_TRUE(ids.load());
    ids.park("/\nshort", {{5}, {}}, 1);
    ids.park("/\nlong", {{6}, {}}, 3600);
  }  // the destructor writes what is pending
  MqttQos2Ids again(dir_);
  ASSERT_TRUE(again.load());
  again.tick(ShardId(0), mono_ms() + 2000);  // past the short session's expiry
  EXPECT_TRUE(again.take("/\nshort").empty());
  EXPECT_EQ(again.take("/\nlong").received, (MqttQos2Ids::Ids{6}));
}

TEST_F(MqttQos2IdsTest, ForgetRemovesThemFromTheFile) {
  {
    MqttQos2Ids ids(dir_);
    ASSERT_TRUE(ids.load());
    save_written(ids, "/\nc", {{2}, {}}, 60);
    ids.forget("/\nc");
  }
  MqttQos2Ids again(dir_);
  ASSERT_TRUE(again.load());
  EXPECT_TRUE(again.take("/\nc").empty());
}

TEST_F(MqttQos2IdsTest, ATruncatedFileIsAnErrorNotACrash) {
  {
    MqttQos2Ids ids(dir_);
    ASSERT_TRUE(ids.load());
    save_written(ids, "/\nc", {{2, 4}, {8}}, 60);
  }
  const auto path = std::filesystem::path(dir_) / "mqtt-qos2";
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
  MqttQos2Ids again(dir_);
  EXPECT_FALSE(again.load());
}

}  // namespace
}  // namespace ferry::session
