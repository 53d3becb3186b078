#include "common/log.h"

#include <gtest/gtest.h>

#include <spdlog/sinks/ostream_sink.h>

#include <sstream>
#include <string>

namespace ferry {
namespace {

TEST(LogSafeTest, ControlCharactersCannotEndALine) {
  // Issue 18.6: an escaped newline in a STOMP header arrives as a real one.
  EXPECT_EQ(escape_for_log("/queue/a\n2026-01-01 info user 'admin' logged in"),
            "/queue/a\\n2026-01-01 info user 'admin' logged in");
  EXPECT_EQ(escape_for_log("a\rb\tc"), "a\\rb\\tc");
  EXPECT_EQ(escape_for_log(std::string("a\0b\x1b[31m\x7f", 9)), "a\\x00b\\x1b[31m\\x7f");
  EXPECT_EQ(escape_for_log("back\\slash"), "back\\\\slash");  // an escape in the value stays tellable
}

TEST(LogSafeTest, PrintableUtf8IsKeptTheRestEscaped) {
  EXPECT_EQ(escape_for_log("caf\xc3\xa9 \xe2\x9c\x93"), "caf\xc3\xa9 \xe2\x9c\x93");
  EXPECT_EQ(escape_for_log("\xff\xc3"), "\\xff\\xc3");             // not UTF-8, cut sequence
  EXPECT_EQ(escape_for_log("a\xc2\x85" "b"), "a\\xc2\\x85b");      // NEL (C1)
  EXPECT_EQ(escape_for_log("a\xe2\x80\xa8" "b"), "a\\xe2\\x80\\xa8b");  // LINE SEPARATOR
}

TEST(LogSafeTest, LongValuesAreCut) {
  std::string big(10000, 'x');
  std::string out = escape_for_log(big);
  EXPECT_EQ(out, std::string(kMaxLoggedValue, 'x') + "...(10000 bytes)");
}

TEST(LogSafeTest, FormatsThroughSpdlog) {
  std::ostringstream os;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(os);
  spdlog::logger logger("t", sink);
  logger.set_pattern("%v");
  logger.info("queue {} tx {}", log_safe("q\nforged"), log_safe("t\r\n"));
  EXPECT_EQ(os.str(), "queue q\\nforged tx t\\r\\n\n");
}

TEST(LogRateTest, BoundedPerWindowWithASummary) {
  std::ostringstream os;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(os);
  auto logger = std::make_shared<spdlog::logger>("rate", sink);
  logger->set_pattern("%v");
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);

  LogRate rate("test lines", 3, 1000, false);
  int allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += rate.allow(10000 + i) ? 1 : 0;
  EXPECT_EQ(allowed, 3);
  EXPECT_EQ(rate.flush(10500), 0u);  // the window is not over
  EXPECT_EQ(os.str(), "");
  EXPECT_EQ(rate.flush(11000), 97u);
  EXPECT_EQ(os.str(), "suppressed 97 similar lines (test lines) in the last 1 s\n");
  EXPECT_EQ(rate.flush(12000), 0u);  // said once
  // A new window allows lines again; a later line also writes the summary.
  os.str("");
  for (int i = 0; i < 5; ++i) allowed += rate.allow(13000) ? 1 : 0;
  EXPECT_EQ(allowed, 6);
  EXPECT_TRUE(rate.allow(14000));
  EXPECT_EQ(os.str(), "suppressed 2 similar lines (test lines) in the last 1 s\n");
  spdlog::set_default_logger(previous);
}

}  // namespace
}  // namespace ferry
