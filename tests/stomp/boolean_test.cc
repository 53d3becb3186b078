#include "stomp/boolean.h"

#include <gtest/gtest.h>

namespace ferry::stomp {
namespace {

TEST(BooleanTest, TrueAndFalseInAnyCase) {
  for (std::string_view t : {"true", "True", "TRUE", "tRuE"}) EXPECT_EQ(parse_boolean(t), true) << t;
  for (std::string_view f : {"false", "False", "FALSE", "fAlSe"}) EXPECT_EQ(parse_boolean(f), false) << f;
}

TEST(BooleanTest, AnythingElseIsNotABoolean) {
  for (std::string_view v : {"", "1", "0", "yes", "no", "t", "truee", " true", "true ", "fals"})
    EXPECT_EQ(parse_boolean(v), std::nullopt) << "'" << v << "'";
}

}  // namespace
}  // namespace ferry::stomp
