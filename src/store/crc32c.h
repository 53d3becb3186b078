#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ferry::store::crc32c {

// CRC32C (Castagnoli). extend() continues a CRC over more bytes:
// value(a+b) == extend(value(a), b). Uses SSE4.2 when the CPU has it, else a
// table; both give identical results. Thread-safe.
std::uint32_t extend(std::uint32_t crc, const char* data, std::size_t n);
inline std::uint32_t value(const char* data, std::size_t n) { return extend(0, data, n); }
inline std::uint32_t value(std::span<const char> s) { return extend(0, s.data(), s.size()); }

// The CRC of A followed by B, from the CRC of A, the CRC of B and B's length,
// in O(log len_b) without the bytes: CRC is linear over GF(2), so A's CRC is
// carried over len_b bytes by multiplying with x^(8 len_b) mod the polynomial.
// Hence also crc(B) == crc(A+B) ^ combine(crc(A), 0, len(B)): the CRC of any
// range from CRCs of two prefixes (segment_reader's resynchronization).
std::uint32_t combine(std::uint32_t crc_a, std::uint32_t crc_b, std::uint64_t len_b);

// The portable table implementation, exposed so tests can compare it with
// the hardware path.
std::uint32_t extend_portable(std::uint32_t crc, const char* data, std::size_t n);
bool hardware_available();

// Stored CRCs are masked (docs/journal.md): a CRC of bytes that contain CRCs
// is then not trivially related to them.
std::uint32_t mask(std::uint32_t crc);
std::uint32_t unmask(std::uint32_t masked);

}  // namespace ferry::store::crc32c
