#include "auth/password_hash.h"
#include "common/assert.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>

namespace ferry::auth {

namespace {

constexpr std::string_view kScheme = "pbkdf2-sha256";
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;

std::string base64(const std::string& raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > 256) return std::nullopt;
  std::string out(text.size() / 4 * 3 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes: take them off.
  std::size_t len = static_cast<std::size_t>(n);
  if (text.ends_with("==")) len -= 2;
  else if (text.ends_with("=")) len -= 1;
  out.resize(len);
  return out;
}

std::string derive(std::string_view password, const std::string& salt, std::uint32_t iterations,
                   std::size_t bytes) {
  std::string out(bytes, '\0');
  const int ok = PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                                   reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                                   static_cast<int>(iterations), EVP_sha256(), static_cast<int>(bytes),
                                   reinterpret_cast<unsigned char*>(out.data()));
  // Fails only on arguments out of bounds (a bug: parse_hash and
  // hash_password check them) or no memory.
  FERRY_ASSERT(ok == 1);
  return out;
}

}  // namespace

Result<std::string> hash_password(std::string_view password, std::uint32_t iterations) {
  if (iterations < kMinIterations || iterations > kMaxIterations)
    return failure("iterations must be from 1000 to 10000000");
  std::string salt(kSaltBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) != 1)
    return failure("no random bytes for a salt");
  std::string hash = derive(password, salt, iterations, kHashBytes);
  return std::string(kScheme) + "$" + std::to_string(iterations) + "$" + base64(salt) + "$" + base64(hash);
}

std::optional<ParsedHash> parse_hash(std::string_view stored) {
  auto next = [&stored]() -> std::optional<std::string_view> {
    if (stored.empty()) return std::nullopt;
    auto d = stored.find('$');
    std::string_view part = stored.substr(0, d);
    stored = d == std::string_view::npos ? std::string_view{} : stored.substr(d + 1);
    return part;
  };
  auto scheme = next(), iter = next(), salt = next(), hash = next();
  if (!scheme || !iter || !salt || !hash || !stored.empty() || *scheme != kScheme) return std::nullopt;
  ParsedHash p;
  auto [ptr, ec] = std::from_chars(iter->data(), iter->data() + iter->size(), p.iterations);
  if (ec != std::errc() || ptr != iter->data() + iter->size()) return std::nullopt;
  if (p.iterations < kMinIterations || p.iterations > kMaxIterations) return std::nullopt;
  auto s = unbase64(*salt), h = unbase64(*hash);
  if (!s || !h || s->empty() || h->size() < 16) return std::nullopt;
  p.salt = std::move(*s);
  p.hash = std::move(*h);
  return p;
}

namespace {

constexpr std::string_view kRabbitSha256 = "rabbitmq-sha256$";
constexpr std::string_view kRabbitSha512 = "rabbitmq-sha512$";
constexpr std::size_t kRabbitSaltBytes = 4;

// The digest and the decoded salt+hash of a rabbitmq-sha* text, or null.
const EVP_MD* rabbitmq_digest(std::string_view stored, std::string& raw) {
  const EVP_MD* md = nullptr;
  std::size_t size = 0;
  if (stored.starts_with(kRabbitSha256)) {
    md = EVP_sha256();
    size = 32;
    stored.remove_prefix(kRabbitSha256.size());
  } else if (stored.starts_with(kRabbitSha512)) {
    md = EVP_sha512();
    size = 64;
    stored.remove_prefix(kRabbitSha512.size());
  } else {
    return nullptr;
  }
  auto decoded = unbase64(stored);
  if (!decoded || decoded->size() != kRabbitSaltBytes + size) return nullptr;
  raw = std::move(*decoded);
  return md;
}

bool verify_rabbitmq(const EVP_MD* md, const std::string& raw, std::string_view password) {
  unsigned char got[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, md, nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, raw.data(), kRabbitSaltBytes) == 1 &&
                  EVP_DigestUpdate(ctx, password.data(), password.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, got, &len) == 1;
  EVP_MD_CTX_free(ctx);
  return ok && len == raw.size() - kRabbitSaltBytes &&
         CRYPTO_memcmp(got, raw.data() + kRabbitSaltBytes, len) == 0;
}

}  // namespace

std::optional<std::string> from_rabbitmq_hash(std::string_view hashing_algorithm, std::string_view password_hash) {
  std::string stored;
  if (hashing_algorithm == "rabbit_password_hashing_sha256") stored = std::string(kRabbitSha256);
  else if (hashing_algorithm == "rabbit_password_hashing_sha512") stored = std::string(kRabbitSha512);
  else return std::nullopt;
  stored += password_hash;
  std::string raw;
  if (rabbitmq_digest(stored, raw) == nullptr) return std::nullopt;
  return stored;
}

bool valid_hash(std::string_view stored) {
  std::string raw;
  return parse_hash(stored).has_value() || rabbitmq_digest(stored, raw) != nullptr;
}

bool verify_password(std::string_view stored, std::string_view password) {
  std::string raw;
  if (const EVP_MD* md = rabbitmq_digest(stored, raw)) return verify_rabbitmq(md, raw, password);
  auto p = parse_hash(stored);
  if (!p) return false;
  std::string got = derive(password, p->salt, p->iterations, p->hash.size());
  return CRYPTO_memcmp(got.data(), p->hash.data(), got.size()) == 0;
}

}  // namespace ferry::auth

namespace ferry::auth {
std::string dummy_hash(std::uint32_t iterations) {
  // Salt and hash of zero bytes: PBKDF2 output equal to 32 zero bytes is
  // not a thing anyone can aim for.
  return std::string(kScheme) + "$" + std::to_string(iterations) + "$" + base64(std::string(kSaltBytes, '\0')) +
         "$" + base64(std::string(kHashBytes, '\0'));
}
}  // namespace ferry::auth
