#include "app/config.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ferry::app {
namespace {

using Cli = std::vector<std::pair<std::string, std::string>>;

// --- parse_size -----------------------------------------------------------------

std::uint64_t size_of(const std::string& text) {
  std::uint64_t n = 12345;
  EXPECT_TRUE(parse_size(text, n)) << text;
  return n;
}

TEST(ParseSizeTest, PlainBytes) {
  EXPECT_EQ(size_of("10"), 10u);
  EXPECT_EQ(size_of("0"), 0u);
  EXPECT_EQ(size_of("10B"), 10u);
  EXPECT_EQ(size_of("1048576"), 1048576u);
}

TEST(ParseSizeTest, BinaryUnits) {
  EXPECT_EQ(size_of("16MiB"), 16u << 20);
  EXPECT_EQ(size_of("512KiB"), 512u << 10);
  EXPECT_EQ(size_of("1G"), 1ull << 30);
  EXPECT_EQ(size_of("1GiB"), 1ull << 30);
  EXPECT_EQ(size_of("1GB"), 1ull << 30);
  EXPECT_EQ(size_of("3K"), 3u << 10);
  EXPECT_EQ(size_of("3KB"), 3u << 10);
  EXPECT_EQ(size_of("2M"), 2u << 20);
  EXPECT_EQ(size_of("2MB"), 2u << 20);
}

TEST(ParseSizeTest, UnitsAreCaseInsensitive) {
  EXPECT_EQ(size_of("16mib"), 16u << 20);
  EXPECT_EQ(size_of("4k"), 4u << 10);
  EXPECT_EQ(size_of("1gib"), 1ull << 30);
}

TEST(ParseSizeTest, LargestValuesFitWithoutOverflow) {
  EXPECT_EQ(size_of("17179869183G"), 17179869183ull << 30);
  EXPECT_EQ(size_of("18446744073709551615"), UINT64_MAX);
}

TEST(ParseSizeTest, RejectsBadInput) {
  for (const char* bad : {"", "MiB", "-1", "+1", "1.5M", "16 MiB", " 16MiB", "16MiB ", "1T", "1TiB",
                          "16MiBx", "16Mi", "0x10", "abc", "1e6", "17179869184G",
                          "18446744073709551616"}) {
    SCOPED_TRACE(bad);
    std::uint64_t n = 777;
    EXPECT_FALSE(parse_size(bad, n));
    EXPECT_EQ(n, 777u) << "out must be left alone on failure";
  }
}

// --- load_options ------------------------------------------------------------------

// A ferry.toml in a scratch directory, removed with the fixture.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ferry_config_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write_toml(const std::string& text) {
    auto path = dir_ / "ferry.toml";
    std::ofstream(path) << text;
    return path.string();
  }

  // The text of load_options' Error, or "" if it succeeded.
  std::string error_of(const std::string& config, const Cli& cli = {}) {
    auto loaded = load_options(config, cli);
    return loaded ? "" : loaded.error().text();
  }

  std::filesystem::path dir_;
};

TEST_F(ConfigTest, DefaultsMatchTheDocumentedTable) {
  Config o = *load_options("", {});
  EXPECT_EQ(o.listen.host, "0.0.0.0");
  EXPECT_EQ(o.listen.port, 61613);
  EXPECT_EQ(o.broker.shards, std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(o.log_level, "info");
  EXPECT_EQ(o.stomp.limits.max_frame_size, 16u << 20);
  EXPECT_EQ(o.stomp.limits.max_body_size, 10u << 20);
  EXPECT_EQ(o.stomp.limits.max_headers, 1000u);
  EXPECT_EQ(o.stomp.limits.max_header_length, 10u << 10);
  EXPECT_EQ(o.listen.max_connections, 10000u);
  EXPECT_EQ(o.stomp.max_subscriptions, 1000u);
  EXPECT_EQ(o.broker.max_unacked, 10000u);
  EXPECT_EQ(o.broker.default_prefetch, 1000u);
  EXPECT_EQ(o.stomp.max_transactions, 100u);
  EXPECT_EQ(o.stomp.max_transaction_size, 10000u);
  EXPECT_EQ(o.broker.memory_limit, 1ull << 30);
  EXPECT_EQ(o.broker.memory_policy, broker::MemoryPolicy::kBlock);
  EXPECT_EQ(o.stomp.producer_window_size, 1u << 20);
  EXPECT_EQ(o.listen.max_write_buffer, 4u << 20);
  EXPECT_EQ(o.broker.max_deliveries, 10u);
  EXPECT_EQ(o.broker.dead_letter_prefix, "DLQ.");
  EXPECT_EQ(o.stomp.heart_beat_send_ms, 10000u);
  EXPECT_EQ(o.stomp.heart_beat_recv_ms, 10000u);
  EXPECT_DOUBLE_EQ(o.listen.heart_beat_grace, 2.0);
  EXPECT_EQ(o.broker.topic_subscriber_buffer, 10000u);
  EXPECT_EQ(o.broker.slow_subscriber_policy, broker::SlowSubscriberPolicy::kBlock);
}

TEST_F(ConfigTest, EveryDefaultIsAcceptedByItsOwnOption) {
  std::set<std::string> names;
  for (const OptionSpec& spec : option_specs()) {
    SCOPED_TRACE(spec.name);
    EXPECT_TRUE(names.insert(spec.name).second) << "duplicate option";
    EXPECT_FALSE(spec.help.empty());
    Config o;
    EXPECT_TRUE(spec.apply(o, spec.default_value).ok());
  }
  EXPECT_FALSE(names.contains("config")) << "--config is not an option of the file";
}

TEST_F(ConfigTest, CommandLineValuesApply) {
  Config o = *load_options("", {{"listen", "0.0.0.0:7000"},
                                           {"shards", "3"},
                                           {"memory-limit", "64MiB"},
                                           {"memory-policy", "reject"},
                                           {"max-deliveries", "0"},
                                           {"heart-beat", "0,5000"},
                                           {"heart-beat-grace", "1.5"},
                                           {"slow-subscriber-policy", "disconnect"},
                                           {"dead-letter-prefix", "dead."},
                                           {"log-level", "debug"}});
  EXPECT_EQ(o.listen.host, "0.0.0.0");
  EXPECT_EQ(o.listen.port, 7000);
  EXPECT_EQ(o.broker.shards, 3u);
  EXPECT_EQ(o.broker.memory_limit, 64u << 20);
  EXPECT_EQ(o.broker.memory_policy, broker::MemoryPolicy::kReject);
  EXPECT_EQ(o.broker.max_deliveries, 0u);
  EXPECT_EQ(o.stomp.heart_beat_send_ms, 0u);
  EXPECT_EQ(o.stomp.heart_beat_recv_ms, 5000u);
  EXPECT_DOUBLE_EQ(o.listen.heart_beat_grace, 1.5);
  EXPECT_EQ(o.broker.slow_subscriber_policy, broker::SlowSubscriberPolicy::kDisconnect);
  EXPECT_EQ(o.broker.dead_letter_prefix, "dead.");
  EXPECT_EQ(o.log_level, "debug");
}

TEST_F(ConfigTest, ListenAcceptsBracketedIpv6AndPortZero) {
  Config o = *load_options("", {{"listen", "[::1]:0"}});
  EXPECT_EQ(o.listen.host, "::1");
  EXPECT_EQ(o.listen.port, 0);
}

TEST_F(ConfigTest, TomlFileOverridesDefaults) {
  auto path = write_toml(
      "# a comment\n"
      "listen = \"127.0.0.1:0\"\n"
      "shards = 2\n"
      "max-frame-size = \"1MiB\"\n"
      "max-body-size = 4096\n"
      "memory-policy = \"reject\"\n"
      "heart-beat-grace = 3.5\n"
      "topic-subscriber-buffer = 50\n");
  Config o = *load_options(path, {});
  EXPECT_EQ(o.listen.port, 0);
  EXPECT_EQ(o.broker.shards, 2u);
  EXPECT_EQ(o.stomp.limits.max_frame_size, 1u << 20);
  EXPECT_EQ(o.stomp.limits.max_body_size, 4096u);
  EXPECT_EQ(o.broker.memory_policy, broker::MemoryPolicy::kReject);
  EXPECT_DOUBLE_EQ(o.listen.heart_beat_grace, 3.5);
  EXPECT_EQ(o.broker.topic_subscriber_buffer, 50u);
  // Untouched options keep their defaults.
  EXPECT_EQ(o.broker.max_unacked, 10000u);
  EXPECT_EQ(o.log_level, "info");
}

TEST_F(ConfigTest, CommandLineOverridesToml) {
  auto path = write_toml("shards = 2\nmax-unacked = 50\nlog-level = \"warn\"\n");
  Config o = *load_options(path, {{"shards", "5"}, {"log-level", "error"}});
  EXPECT_EQ(o.broker.shards, 5u);
  EXPECT_EQ(o.log_level, "error");
  EXPECT_EQ(o.broker.max_unacked, 50u) << "not on the command line: the file's value stays";
}

TEST_F(ConfigTest, LaterCommandLineValueWins) {
  Config o = *load_options("", {{"max-unacked", "5"}, {"max-unacked", "7"}});
  EXPECT_EQ(o.broker.max_unacked, 7u);
}

TEST_F(ConfigTest, UnknownCommandLineOptionNamesIt) {
  std::string err = error_of("", {{"no-such-option", "1"}});
  EXPECT_NE(err.find("no-such-option"), std::string::npos) << err;
  EXPECT_NE(err.find("unknown"), std::string::npos) << err;
}

TEST_F(ConfigTest, UnknownTomlKeyNamesItAndTheFile) {
  auto path = write_toml("shards = 1\nmax-frobs = 3\n");
  std::string err = error_of(path);
  EXPECT_NE(err.find("max-frobs"), std::string::npos) << err;
  EXPECT_NE(err.find(path), std::string::npos) << err;
}

TEST_F(ConfigTest, EveryBadFileIsAnErrorWithTheWholeMessage) {
  // An Error, never an exception: the texts users and tests match, whole.
  auto path = write_toml("[listen]\nhost = \"x\"\n");
  EXPECT_EQ(error_of(path), path + ": option 'listen' must be a string, number or list of strings");
  path = write_toml("shards = [\"1\"]\n");
  EXPECT_EQ(error_of(path), path + ": option 'shards' must be a string or number, not a list");
  EXPECT_EQ(error_of("", {{"heart-beat-grace", "two"}}),
            "--heart-beat-grace: invalid value 'two' for heart-beat-grace: expected a number from 1.0 to 1000");
  EXPECT_EQ(error_of("", {{"shards", "-1"}}),
            "--shards: invalid value '-1' for shards: expected a positive whole number");
}

TEST_F(ConfigTest, BadCommandLineValueNamesOptionAndValue) {
  for (const auto& [name, value] : Cli{{"memory-limit", "lots"},
                                       {"memory-limit", "0"},
                                       {"max-unacked", "-1"},
                                       {"max-unacked", "0"},
                                       {"max-connections", "12abc"},
                                       {"shards", "many"},
                                       {"listen", "nohostport"},
                                       {"listen", ":61613"},
                                       {"listen", "host:99999"},
                                       {"log-level", "loud"},
                                       {"memory-policy", "drop"},
                                       {"slow-subscriber-policy", "ignore"},
                                       {"heart-beat", "1000"},
                                       {"heart-beat", "a,b"},
                                       {"heart-beat-grace", "0.5"},
                                       {"heart-beat-grace", "2x"},
                                       {"dead-letter-prefix", ""}}) {
    SCOPED_TRACE(name + "=" + value);
    std::string err = error_of("", {{name, value}});
    ASSERT_FALSE(err.empty()) << "accepted";
    EXPECT_NE(err.find(name), std::string::npos) << err;
    EXPECT_NE(err.find("'" + value + "'"), std::string::npos) << err;
    EXPECT_NE(err.find("--" + name), std::string::npos) << "the source is named: " << err;
  }
}

// Found by tests/fuzz/config_fuzz.cc: a grace of "19e99" (or nan, inf) was
// accepted, and grace x interval then overflowed the int64 of the silence
// check (undefined behaviour in net/connection.cc).
TEST_F(ConfigTest, HeartBeatGraceMustBeFiniteAndBounded) {
  for (const std::string value : {"19e99", "1e300", "inf", "nan", "-nan", "1001"}) {
    SCOPED_TRACE(value);
    EXPECT_NE(error_of("", {{"heart-beat-grace", value}}), "") << "accepted";
  }
  auto path = write_toml("heart-beat-grace = \"19e99\"\n");
  EXPECT_NE(error_of(path).find("heart-beat-grace"), std::string::npos);
  path = write_toml("heart-beat-grace = inf\n");
  EXPECT_NE(error_of(path).find("heart-beat-grace"), std::string::npos);
  path = write_toml("heart-beat-grace = nan\n");
  EXPECT_NE(error_of(path).find("heart-beat-grace"), std::string::npos);
  EXPECT_EQ(error_of("", {{"heart-beat-grace", "1000"}}), "");
}

TEST_F(ConfigTest, BadTomlValueNamesOptionAndFile) {
  auto path = write_toml("memory-policy = \"sometimes\"\n");
  std::string err = error_of(path);
  EXPECT_NE(err.find("memory-policy"), std::string::npos) << err;
  EXPECT_NE(err.find("sometimes"), std::string::npos) << err;
  EXPECT_NE(err.find(path), std::string::npos) << err;
}

TEST_F(ConfigTest, NegativeTomlNumberIsRejected) {
  auto path = write_toml("max-unacked = -5\n");
  std::string err = error_of(path);
  EXPECT_NE(err.find("max-unacked"), std::string::npos) << err;
}

TEST_F(ConfigTest, TomlValueOfWrongTypeNamesTheOption) {
  auto path = write_toml("listen = [\"a:1\", \"b:2\"]\n");
  std::string err = error_of(path);
  EXPECT_NE(err.find("listen"), std::string::npos) << err;
}

TEST_F(ConfigTest, TomlSyntaxErrorNamesTheFile) {
  auto path = write_toml("shards = = 2\n");
  std::string err = error_of(path);
  ASSERT_FALSE(err.empty());
  EXPECT_NE(err.find(path), std::string::npos) << err;
}

TEST_F(ConfigTest, MissingConfigFileIsAnError) {
  std::string missing = (dir_ / "nope.toml").string();
  std::string err = error_of(missing);
  ASSERT_FALSE(err.empty());
  EXPECT_NE(err.find(missing), std::string::npos) << err;
}

TEST_F(ConfigTest, BadValueInFileIsReportedEvenIfCommandLineOverridesIt) {
  // Each source is checked as it is applied; a later source does not hide an
  // earlier mistake.
  auto path = write_toml("shards = \"many\"\n");
  std::string err = error_of(path, {{"shards", "2"}});
  EXPECT_NE(err.find("shards"), std::string::npos) << err;
}

}  // namespace
}  // namespace ferry::app

namespace ferry::app {
namespace {

class AuthConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ferry-auth-config-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write_toml(const std::string& text) {
    auto path = (dir_ / "ferry.toml").string();
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(AuthConfigTest, Defaults) {
  Config o = *load_options("", {});
  EXPECT_EQ(o.auth.users_file, "");
  EXPECT_EQ(o.auth.loopback_users, std::vector<std::string>{"guest"});
  EXPECT_EQ(o.auth.default_user, "guest");
  EXPECT_EQ(o.auth.default_vhost, "/");
  EXPECT_EQ(o.auth.login_failure_delay_ms, 1000u);
  EXPECT_EQ(o.auth.max_login_failures, 10u);
}

TEST_F(AuthConfigTest, LoopbackUsersAsTomlListOrCommaSeparated) {
  Config o = *load_options(write_toml("loopback-users = [\"guest\", \"ops\"]\n"), {});
  EXPECT_EQ(o.auth.loopback_users, (std::vector<std::string>{"guest", "ops"}));
  o = *load_options(write_toml("loopback-users = []\ndefault-user = \"\"\n"), {});
  EXPECT_TRUE(o.auth.loopback_users.empty());
  EXPECT_EQ(o.auth.default_user, "");
  o = *load_options("", {{"loopback-users", "a, b"}});
  EXPECT_EQ(o.auth.loopback_users, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(load_options(write_toml("loopback-users = [1]\n"), {}));
  EXPECT_FALSE(load_options("", {{"default-vhost", ""}}));
}

}  // namespace
}  // namespace ferry::app
