#include "mqtt/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry::mqtt {
namespace {

using namespace std::string_literals;

TEST(MqttUtf8, AcceptsWellFormedText) {
  EXPECT_TRUE(valid_mqtt_utf8(""));
  EXPECT_TRUE(valid_mqtt_utf8("a/b/c"));
  EXPECT_TRUE(valid_mqtt_utf8("caf\xC3\xA9"));            // é
  EXPECT_TRUE(valid_mqtt_utf8("\xE2\x82\xAC"));           // €
  EXPECT_TRUE(valid_mqtt_utf8("\xF0\x9F\x98\x80"));       // U+1F600
  EXPECT_TRUE(valid_mqtt_utf8("\xEF\xBB\xBF"));           // U+FEFF is allowed (not skipped, not refused)
  EXPECT_TRUE(valid_mqtt_utf8("\xF4\x8F\xBF\xBF"));       // U+10FFFF
}

TEST(MqttUtf8, RefusesNulAndIllFormedText) {
  EXPECT_FALSE(valid_mqtt_utf8("a\0b"s));                  // U+0000 (spec 1.5.4-2)
  EXPECT_FALSE(valid_mqtt_utf8("\xC0\x80"));               // overlong U+0000
  EXPECT_FALSE(valid_mqtt_utf8("\xC1\xBF"));               // overlong
  EXPECT_FALSE(valid_mqtt_utf8("\xE0\x80\xAF"));           // overlong '/'
  EXPECT_FALSE(valid_mqtt_utf8("\xED\xA0\x80"));           // surrogate U+D800 (spec 1.5.4-1)
  EXPECT_FALSE(valid_mqtt_utf8("\xED\xBF\xBF"));           // surrogate U+DFFF
  EXPECT_FALSE(valid_mqtt_utf8("\xF4\x90\x80\x80"));       // above U+10FFFF
  EXPECT_FALSE(valid_mqtt_utf8("\x80"));                   // lone continuation byte
  EXPECT_FALSE(valid_mqtt_utf8("\xC3"));                   // truncated
  EXPECT_FALSE(valid_mqtt_utf8("\xE2\x82"));               // truncated
  EXPECT_FALSE(valid_mqtt_utf8("\xC3\x28"));               // bad continuation
  EXPECT_FALSE(valid_mqtt_utf8("\xFF"));
  EXPECT_FALSE(valid_mqtt_utf8("\xF8\x88\x80\x80\x80"));   // 5-byte form
}

}  // namespace
}  // namespace ferry::mqtt
