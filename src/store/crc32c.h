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

// The portable table implementation, exposed so tests can compare it with
// the hardware path.
std::uint32_t extend_portable(std::uint32_t crc, const char* data, std::size_t n);
bool hardware_available();

// Stored CRCs are masked (docs/journal.md): a CRC of bytes that contain CRCs
// is then not trivially related to them.
std::uint32_t mask(std::uint32_t crc);
std::uint32_t unmask(std::uint32_t masked);

}  // namespace ferry::store::crc32c
