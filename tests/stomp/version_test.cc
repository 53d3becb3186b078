#include "stomp/version.h"

#include <gtest/gtest.h>

namespace ferry::stomp {
namespace {

TEST(VersionTest, NamesVersions) {
  EXPECT_EQ(to_string(Version::k1_0), "1.0");
  EXPECT_EQ(to_string(Version::k1_1), "1.1");
  EXPECT_EQ(to_string(Version::k1_2), "1.2");
}

TEST(VersionTest, AbsentAcceptVersionMeans10) {
  EXPECT_EQ(negotiate(std::nullopt), Version::k1_0);
}

TEST(VersionTest, PicksTheOnlyVersionOffered) {
  EXPECT_EQ(negotiate("1.0"), Version::k1_0);
  EXPECT_EQ(negotiate("1.1"), Version::k1_1);
  EXPECT_EQ(negotiate("1.2"), Version::k1_2);
}

TEST(VersionTest, PicksTheHighestVersionInAnyOrder) {
  EXPECT_EQ(negotiate("1.0,1.1,1.2"), Version::k1_2);
  EXPECT_EQ(negotiate("1.2,1.0"), Version::k1_2);
  EXPECT_EQ(negotiate("1.1,1.0"), Version::k1_1);
  EXPECT_EQ(negotiate("1.0,1.1"), Version::k1_1);
}

TEST(VersionTest, ToleratesSpacesAndEmptyEntries) {
  EXPECT_EQ(negotiate(" 1.0 , 1.1 "), Version::k1_1);
  EXPECT_EQ(negotiate("1.0,\t1.2"), Version::k1_2);
  EXPECT_EQ(negotiate(",1.1,,"), Version::k1_1);
}

TEST(VersionTest, IgnoresUnknownVersions) {
  EXPECT_EQ(negotiate("1.3,1.1"), Version::k1_1);
  EXPECT_EQ(negotiate("2.0,1.0,0.9"), Version::k1_0);
  EXPECT_EQ(negotiate("1.10"), std::nullopt);
}

TEST(VersionTest, NoSupportedVersionIsNullopt) {
  EXPECT_EQ(negotiate(""), std::nullopt);
  EXPECT_EQ(negotiate("2.0"), std::nullopt);
  EXPECT_EQ(negotiate("1.3,2.0"), std::nullopt);
  EXPECT_EQ(negotiate("1,1.1x"), std::nullopt);
}

}  // namespace
}  // namespace ferry::stomp
