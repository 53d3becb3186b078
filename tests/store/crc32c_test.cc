#include "store/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry::store {
namespace {

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c::value("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c::value("", 0), 0u);
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c::value(zeros.data(), zeros.size()), 0x8A9136AAu);  // RFC 3720 B.4
  std::string ones(32, '\xff');
  EXPECT_EQ(crc32c::value(ones.data(), ones.size()), 0x62A8AB43u);
}

TEST(Crc32c, ExtendEqualsWhole) {
  std::string s = "hello, journal; this string is longer than sixteen bytes";
  for (std::size_t cut = 0; cut <= s.size(); ++cut) {
    EXPECT_EQ(crc32c::extend(crc32c::value(s.data(), cut), s.data() + cut, s.size() - cut),
              crc32c::value(s.data(), s.size()));
  }
}

TEST(Crc32c, CombineEqualsWholeAndGivesAnyRange) {
  std::string s;
  std::uint32_t x = 12345;
  for (int i = 0; i < 70000; ++i) {
    x = x * 1103515245u + 12345u;
    s.push_back(static_cast<char>(x >> 24));
  }
  const std::size_t cuts[] = {0, 1, 3, 8, 9, 255, 4096, 65537, s.size()};
  for (std::size_t a : cuts) {
    for (std::size_t b : cuts) {
      if (a > b) continue;
      const std::uint32_t whole = crc32c::value(s.data(), b);
      const std::uint32_t head = crc32c::value(s.data(), a);
      const std::uint32_t tail = crc32c::value(s.data() + a, b - a);
      EXPECT_EQ(crc32c::combine(head, tail, b - a), whole) << a << ".." << b;
      EXPECT_EQ(whole ^ crc32c::combine(head, 0, b - a), tail) << a << ".." << b;
    }
  }
}

TEST(Crc32c, HardwareMatchesPortable) {
  std::string s;
  for (int i = 0; i < 1000; ++i) s.push_back(static_cast<char>(i * 131 + 7));
  for (std::size_t start = 0; start < 9; ++start) {
    for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 63u, 500u}) {
      EXPECT_EQ(crc32c::extend(0, s.data() + start, n),
                crc32c::extend_portable(0, s.data() + start, n));
    }
  }
}

TEST(Crc32c, MaskRoundTripsAndDiffers) {
  std::uint32_t crc = crc32c::value("foo", 3);
  EXPECT_NE(crc32c::mask(crc), crc);
  EXPECT_NE(crc32c::mask(crc32c::mask(crc)), crc);
  EXPECT_EQ(crc32c::unmask(crc32c::mask(crc)), crc);
  EXPECT_EQ(crc32c::unmask(crc32c::unmask(crc32c::mask(crc32c::mask(crc)))), crc);
}

}  // namespace
}  // namespace ferry::store
