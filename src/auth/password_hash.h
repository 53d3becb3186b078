#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

// Salted, slow password hashes in a self-describing text form (docs/security.md):
//
//   pbkdf2-sha256$<iterations>$<salt, base64>$<hash, base64>
//
// PBKDF2-HMAC-SHA256 (OpenSSL), 16 random bytes of salt, 32 bytes of hash.
// Hashing is slow on purpose: never call these on a shard's event loop (the
// broker calls them on auth::Verifier's thread).
namespace ferry::auth {

inline constexpr std::uint32_t kDefaultIterations = 100000;
inline constexpr std::uint32_t kMinIterations = 1000;
inline constexpr std::uint32_t kMaxIterations = 10000000;

struct ParsedHash {
  std::uint32_t iterations = 0;
  std::string salt;  // raw bytes
  std::string hash;  // raw bytes
};

// A new stored hash of `password` with a random salt. An Error if
// `iterations` is out of [kMinIterations, kMaxIterations] or OpenSSL fails
// (no randomness).
Result<std::string> hash_password(std::string_view password, std::uint32_t iterations = kDefaultIterations);

// nullopt: not a hash this version understands (or its cost is out of bounds).
std::optional<ParsedHash> parse_hash(std::string_view stored);

// RabbitMQ's stored hashes, as its definitions export writes them, kept so
// that users move from RabbitMQ with their passwords:
//
//   rabbitmq-sha256$<base64 of 4 salt bytes + SHA-256(salt + password)>
//   rabbitmq-sha512$<... SHA-512 ...>
//
// (rabbit_password_hashing_sha256 / _sha512). A single salted hash, far
// cheaper to guess than pbkdf2-sha256: `ferry user passwd` replaces one.
// `hashing_algorithm` is RabbitMQ's name; the stored text, or nullopt for
// an algorithm or hash Ferry cannot check.
std::optional<std::string> from_rabbitmq_hash(std::string_view hashing_algorithm, std::string_view password_hash);

// True for a stored hash verify_password() can check (either form above).
bool valid_hash(std::string_view stored);

// True if `password` matches `stored`; compares in constant time. A stored
// text that does not parse never matches (and costs no time: callers that
// must hide that use a dummy, see UserStore::check_password).
bool verify_password(std::string_view stored, std::string_view password);

}  // namespace ferry::auth

namespace ferry::auth {
// A stored hash that no password matches, costing `iterations` to check:
// what an unknown user's login is checked against.
std::string dummy_hash(std::uint32_t iterations);
}  // namespace ferry::auth
