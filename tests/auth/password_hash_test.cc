#include "auth/password_hash.h"

#include <gtest/gtest.h>

namespace ferry::auth {
namespace {

TEST(PasswordHashTest, RightPasswordMatchesWrongOneDoesNot) {
  std::string h = *hash_password("s3cret", kMinIterations);
  EXPECT_TRUE(verify_password(h, "s3cret"));
  EXPECT_FALSE(verify_password(h, "s3cret "));
  EXPECT_FALSE(verify_password(h, ""));
  EXPECT_FALSE(verify_password(h, "S3cret"));
}

TEST(PasswordHashTest, FormatNamesAlgorithmCostSaltAndHash) {
  std::string h = *hash_password("pw", 2000);
  EXPECT_EQ(h.rfind("pbkdf2-sha256$2000$", 0), 0u) << h;
  auto p = parse_hash(h);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->iterations, 2000u);
  EXPECT_EQ(p->salt.size(), 16u);
  EXPECT_EQ(p->hash.size(), 32u);
}

TEST(PasswordHashTest, SaltIsRandom) {
  std::string a = *hash_password("same", kMinIterations), b = *hash_password("same", kMinIterations);
  EXPECT_NE(a, b);
  EXPECT_TRUE(verify_password(a, "same"));
  EXPECT_TRUE(verify_password(b, "same"));
}

TEST(PasswordHashTest, KnownVectorFromRfc7914) {
  // RFC 7914 section 11: PBKDF2-HMAC-SHA256, P="Password", S="NaCl",
  // c=80000; the first 32 bytes of its output are
  // 4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56.
  const std::string stored =
      "pbkdf2-sha256$80000$TmFDbA==$Tdz"
      "Y9guYviGDDO5e8icB+WQaRBjQTAQUrv8Ih2s0q1Y=";
  EXPECT_TRUE(verify_password(stored, "Password"));
  EXPECT_FALSE(verify_password(stored, "password"));
}

TEST(PasswordHashTest, MalformedStoredTextsNeverMatch) {
  for (const char* bad : {"", "pbkdf2-sha256", "pbkdf2-sha256$1000$", "md5$1000$AAAA$AAAA",
                          "pbkdf2-sha256$10$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                          "pbkdf2-sha256$x$AAAA$AAAA", "pbkdf2-sha256$1000$!!!!$AAAA",
                          "pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=$x"}) {
    EXPECT_FALSE(parse_hash(bad)) << bad;
    EXPECT_FALSE(verify_password(bad, "")) << bad;
  }
}

TEST(PasswordHashTest, DummyHashParsesAndMatchesNothing) {
  std::string d = dummy_hash(5000);
  auto p = parse_hash(d);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->iterations, 5000u);
  EXPECT_FALSE(verify_password(d, ""));
  EXPECT_FALSE(verify_password(d, "guest"));
}

TEST(PasswordHashTest, CostOutOfBoundsIsRefused) {
  EXPECT_FALSE(hash_password("pw", 10));
  auto refused = hash_password("pw", kMaxIterations + 1);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().text(), "iterations must be from 1000 to 10000000");
}

// RabbitMQ's documented example: salt 908DC60A, password "test12" (the
// sha512 text computed independently with Python's hashlib).
TEST(PasswordHashTest, RabbitMqHashesFromItsDefinitionsVerify) {
  auto sha256 = from_rabbitmq_hash("rabbit_password_hashing_sha256", "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR");
  ASSERT_TRUE(sha256);
  EXPECT_EQ(*sha256, "rabbitmq-sha256$kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR");
  EXPECT_TRUE(valid_hash(*sha256));
  EXPECT_TRUE(verify_password(*sha256, "test12"));
  EXPECT_FALSE(verify_password(*sha256, "test13"));
  EXPECT_FALSE(verify_password(*sha256, ""));
  auto sha512 = from_rabbitmq_hash(
      "rabbit_password_hashing_sha512",
      "kI3GChuNuIYf8lRbCCxZjgjKwsY19ns6+uFO0zcXRBGA/XGJPYD8OWMy7EB8TaOmAzjP2azv84GbINYwX2cDWb4DHnc=");
  ASSERT_TRUE(sha512);
  EXPECT_TRUE(verify_password(*sha512, "test12"));
  EXPECT_FALSE(verify_password(*sha512, "test1"));
  // MD5 (RabbitMQ before 3.6) is not accepted; nor a hash of the wrong length.
  EXPECT_FALSE(from_rabbitmq_hash("rabbit_password_hashing_md5", "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR"));
  EXPECT_FALSE(from_rabbitmq_hash("rabbit_password_hashing_sha512", "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR"));
  EXPECT_FALSE(from_rabbitmq_hash("rabbit_password_hashing_sha256", "not base64!"));
  EXPECT_FALSE(valid_hash("rabbitmq-sha256$"));
  EXPECT_FALSE(verify_password("rabbitmq-sha256$AAAA", "x"));
}

}  // namespace
}  // namespace ferry::auth
