// The stream destination and the file-system names of streams
// (broker/stream_store.h, docs/streams.md "On disk"); the wire behaviour is
// tests/integration/test_streams.py.
#include "broker/stream_store.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "broker/destination.h"

namespace ferry::broker {
namespace {

TEST(StreamDestinationTest, ParsesStream) {
  auto d = parse_destination("/stream/orders", "/");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->kind, DestinationKind::kStream);
  EXPECT_EQ(d->name, "orders");
  EXPECT_EQ(d->to_string(), "/stream/orders");
  EXPECT_FALSE(parse_destination("/stream/", "/").has_value());
}

TEST(StreamNameTest, PlainNamesStayAsTheyAre) {
  EXPECT_EQ(StreamStore::escape_name("orders-2024_v1.log"), "orders-2024_v1.log");
}

TEST(StreamNameTest, EverythingElseIsEscaped) {
  EXPECT_EQ(StreamStore::escape_name("/"), "%2F");
  EXPECT_EQ(StreamStore::escape_name("a/b:c%d e"), "a%2Fb%3Ac%25d%20e");
  EXPECT_EQ(StreamStore::escape_name(".."), "%2E.");
  EXPECT_EQ(StreamStore::escape_name(".hidden"), "%2Ehidden");
  EXPECT_EQ(StreamStore::escape_name(std::string("\0\xff", 2)), "%00%FF");
}

TEST(StreamNameTest, EmptyAndTooLongAreRefused) {
  EXPECT_FALSE(StreamStore::escape_name("").has_value());
  EXPECT_TRUE(StreamStore::escape_name(std::string(240, 'a')).has_value());
  EXPECT_FALSE(StreamStore::escape_name(std::string(241, 'a')).has_value());
  EXPECT_FALSE(StreamStore::escape_name(std::string(81, '/')).has_value());  // 243 escaped
}

TEST(StreamNameTest, UnescapeInvertsEscape) {
  for (const std::string& name : std::vector<std::string>{"orders", "/", "a/b:c%d e", "..", ".x", std::string("\0\xff", 2)}) {
    auto e = StreamStore::escape_name(name);
    ASSERT_TRUE(e.has_value()) << name;
    EXPECT_EQ(StreamStore::unescape_name(*e), name);
  }
}

TEST(StreamNameTest, OnlyTheCanonicalSpellingIsAStream) {
  EXPECT_FALSE(StreamStore::unescape_name("%2f").has_value());   // lower-case hex
  EXPECT_FALSE(StreamStore::unescape_name("%41").has_value());   // 'A' needs no escape
  EXPECT_FALSE(StreamStore::unescape_name("a%2").has_value());   // cut short
  EXPECT_FALSE(StreamStore::unescape_name("%zz").has_value());
  EXPECT_FALSE(StreamStore::unescape_name(".tmp").has_value());
  EXPECT_FALSE(StreamStore::unescape_name("").has_value());
}

}  // namespace
}  // namespace ferry::broker
