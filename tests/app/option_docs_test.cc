// The same option names everywhere: every `ferry serve` option appears in the
// shipped ferry.toml (with its default value) and in the README, and the
// shipped ferry.toml loads and equals the built-in defaults.
#include <gtest/gtest.h>

#include <toml++/toml.h>

#include <fstream>
#include <sstream>
#include <string>

#include "app/config.h"

namespace ferry::app {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(OptionDocsTest, ShippedTomlNamesEveryOptionWithItsDefault) {
  const std::string path = std::string(FERRY_SOURCE_DIR) + "/ferry.toml";
  toml::table table = toml::parse_file(path);
  for (const OptionSpec& spec : option_specs()) {
    auto node = table[spec.name];
    ASSERT_TRUE(node) << "ferry.toml lacks option " << spec.name;
    if (auto s = node.value<std::string>()) {
      EXPECT_EQ(*s, spec.default_value) << spec.name;
    } else if (node.is_integer()) {
      EXPECT_EQ(std::to_string(*node.value<std::int64_t>()), spec.default_value) << spec.name;
    } else if (node.is_boolean()) {
      EXPECT_EQ(*node.value<bool>() ? "true" : "false", spec.default_value) << spec.name;
    } else if (node.is_floating_point()) {
      EXPECT_DOUBLE_EQ(*node.value<double>(), std::stod(spec.default_value)) << spec.name;
    } else if (auto* list = node.as_array()) {  // a list of strings: comma-joined on the command line
      std::string joined;
      for (const auto& item : *list) joined += (joined.empty() ? "" : ",") + item.value_or(std::string{});
      EXPECT_EQ(joined, spec.default_value) << spec.name;
    } else {
      ADD_FAILURE() << spec.name << " has an unexpected type in ferry.toml";
    }
  }
  EXPECT_EQ(table.size(), option_specs().size()) << "ferry.toml has keys that are not options";
}

TEST(OptionDocsTest, ShippedTomlLoads) {
  const std::string path = std::string(FERRY_SOURCE_DIR) + "/ferry.toml";
  Config file = *load_options(path, {});
  Config defaults = *load_options("", {});
  EXPECT_EQ(file.listen.host, defaults.listen.host);
  EXPECT_EQ(file.listen.port, defaults.listen.port);
  EXPECT_EQ(file.stomp.limits.max_frame_size, defaults.stomp.limits.max_frame_size);
  EXPECT_EQ(file.stomp.limits.max_body_size, defaults.stomp.limits.max_body_size);
  EXPECT_EQ(file.stomp.limits.max_headers, defaults.stomp.limits.max_headers);
  EXPECT_EQ(file.stomp.limits.max_header_length, defaults.stomp.limits.max_header_length);
  EXPECT_EQ(file.listen.max_connections, defaults.listen.max_connections);
  EXPECT_EQ(file.broker.memory_limit, defaults.broker.memory_limit);
  EXPECT_EQ(file.broker.max_deliveries, defaults.broker.max_deliveries);
  EXPECT_EQ(file.broker.dead_letter_prefix, defaults.broker.dead_letter_prefix);
  EXPECT_EQ(file.stomp.heart_beat_send_ms, defaults.stomp.heart_beat_send_ms);
  EXPECT_DOUBLE_EQ(file.listen.heart_beat_grace, defaults.listen.heart_beat_grace);
  EXPECT_EQ(file.broker.topic_subscriber_buffer, defaults.broker.topic_subscriber_buffer);
  EXPECT_EQ(file.broker.max_queues, defaults.broker.max_queues);
  EXPECT_EQ(file.broker.max_exchanges, defaults.broker.max_exchanges);
  EXPECT_EQ(file.broker.max_bindings, defaults.broker.max_bindings);
}

TEST(OptionDocsTest, ReadmeDocumentsEveryOption) {
  const std::string readme = read_file(std::string(FERRY_SOURCE_DIR) + "/README.md");
  ASSERT_FALSE(readme.empty());
  for (const OptionSpec& spec : option_specs()) {
    EXPECT_NE(readme.find("`" + spec.name + "`"), std::string::npos)
        << "README.md does not document option " << spec.name;
  }
}

}  // namespace
}  // namespace ferry::app
