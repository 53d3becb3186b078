#include "store/crc32c.h"

#include <array>
#include <cstring>

#include "store/record_format.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define FERRY_CRC32C_X86 1
#endif

namespace ferry::store::crc32c {
namespace {

constexpr std::uint32_t kPoly = 0x82f63b78u;  // reflected 0x1EDC6F41

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kTable = make_table();

#ifdef FERRY_CRC32C_X86
__attribute__((target("sse4.2"))) std::uint32_t extend_sse42(std::uint32_t crc, const char* p,
                                                             std::size_t n) {
  std::uint64_t c = ~crc;
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (n > 0) {
    c32 = _mm_crc32_u8(c32, static_cast<unsigned char>(*p));
    ++p;
    --n;
  }
  return ~c32;
}
bool detect_sse42() {
  __builtin_cpu_init();  // may run before libgcc's own constructor
  return __builtin_cpu_supports("sse4.2");
}
const bool kHaveSse42 = detect_sse42();
#else
const bool kHaveSse42 = false;
#endif

// GF(2) polynomials mod the CRC polynomial, in the reflected bit order the
// CRC register uses: bit 31 is x^0, bit 0 is x^31.
constexpr std::uint32_t kOne = 1u << 31;

constexpr std::uint32_t multiply(std::uint32_t a, std::uint32_t b) {
  std::uint32_t product = 0;
  for (std::uint32_t bit = kOne; bit != 0; bit >>= 1) {
    if (a & bit) product ^= b;
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;  // b *= x
  }
  return product;
}

// kPowers[k] = x^(2^k) mod P, so x^(8n) is the product of kPowers[k + 3]
// over the set bits k of n.
constexpr std::array<std::uint32_t, 67> make_powers() {
  std::array<std::uint32_t, 67> t{};
  t[0] = kOne >> 1;  // x^1
  for (std::size_t k = 1; k < t.size(); ++k) t[k] = multiply(t[k - 1], t[k - 1]);
  return t;
}
constexpr auto kPowers = make_powers();

}  // namespace

std::uint32_t combine(std::uint32_t crc_a, std::uint32_t crc_b, std::uint64_t len_b) {
  std::uint32_t shifted = crc_a;
  for (std::size_t k = 3; len_b != 0; len_b >>= 1, ++k) {
    if (len_b & 1) shifted = multiply(kPowers[k], shifted);
  }
  return shifted ^ crc_b;
}

std::uint32_t extend_portable(std::uint32_t crc, const char* data, std::size_t n) {
  std::uint32_t c = ~crc;
  for (std::size_t i = 0; i < n; ++i) {
    c = kTable[(c ^ static_cast<unsigned char>(data[i])) & 0xff] ^ (c >> 8);
  }
  return ~c;
}

bool hardware_available() { return kHaveSse42; }

std::uint32_t extend(std::uint32_t crc, const char* data, std::size_t n) {
#ifdef FERRY_CRC32C_X86
  if (kHaveSse42) return extend_sse42(crc, data, n);
#endif
  return extend_portable(crc, data, n);
}

std::uint32_t mask(std::uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + format::kCrcMaskDelta;
}

std::uint32_t unmask(std::uint32_t masked) {
  std::uint32_t rot = masked - format::kCrcMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace ferry::store::crc32c
