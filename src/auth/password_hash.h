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
