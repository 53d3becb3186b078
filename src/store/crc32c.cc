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

}  // namespace

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
