#include "broker/paged_tail.h"

#include "common/assert.h"

namespace ferry::broker {

namespace {

constexpr std::size_t kMaxEntryBytes = 4 * 10;  // four varints of at most 10 bytes

std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

void put_varint(std::vector<std::uint8_t>& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

std::uint64_t get_varint(const std::vector<std::uint8_t>& in, std::size_t& pos) {
  std::uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    FERRY_ASSERT(pos < in.size() && shift < 64);
    const std::uint8_t b = in[pos++];
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
}

}  // namespace

void PagedTail::push(const PagedPosition& p) {
  if (!blocks_) blocks_ = std::make_unique<Blocks>();
  Blocks& blocks = *blocks_;
  if (blocks.empty() || blocks.back().bytes.size() + kMaxEntryBytes > kBlockBytes) {
    blocks.emplace_back();
    blocks.back().bytes.reserve(kBlockBytes);
  }
  Block& b = blocks.back();
  const std::uint64_t base = p.segment == b.write.segment ? b.write.offset : 0;
  put_varint(b.bytes, zigzag(static_cast<std::int64_t>(p.segment - b.write.segment)));
  put_varint(b.bytes, zigzag(static_cast<std::int64_t>(p.offset - base)));
  put_varint(b.bytes, (std::uint64_t{p.index} << 1) | (p.deliveries != 0 ? 1 : 0));
  if (p.deliveries != 0) put_varint(b.bytes, p.deliveries);
  b.write.segment = p.segment;
  b.write.offset = p.offset;
  b.write.pos = b.bytes.size();
  ++b.count;
  ++size_;
  ++per_segment_[p.segment];
}

PagedPosition PagedTail::decode(const Block& b, Cursor& c) {
  PagedPosition p;
  p.segment = c.segment + static_cast<std::uint64_t>(unzigzag(get_varint(b.bytes, c.pos)));
  const std::uint64_t base = p.segment == c.segment ? c.offset : 0;
  p.offset = base + static_cast<std::uint64_t>(unzigzag(get_varint(b.bytes, c.pos)));
  const std::uint64_t tag = get_varint(b.bytes, c.pos);
  p.index = static_cast<std::uint32_t>(tag >> 1);
  if (tag & 1) p.deliveries = static_cast<std::uint32_t>(get_varint(b.bytes, c.pos));
  c.segment = p.segment;
  c.offset = p.offset;
  return p;
}

std::size_t PagedTail::peek(std::size_t n, std::vector<PagedPosition>& out) const {
  std::size_t got = 0;
  if (!blocks_) return 0;
  for (const Block& b : *blocks_) {
    Cursor c = b.read;
    for (std::uint32_t i = 0; i < b.count && got < n; ++i, ++got) out.push_back(decode(b, c));
    if (got == n) break;
  }
  return got;
}

void PagedTail::pop(std::size_t n) {
  FERRY_ASSERT(n <= size_);
  while (n > 0) {
    Block& b = blocks_->front();
    const PagedPosition p = decode(b, b.read);
    auto it = per_segment_.find(p.segment);
    FERRY_ASSERT(it != per_segment_.end() && it->second > 0);
    if (--it->second == 0) per_segment_.erase(it);
    --b.count;
    --size_;
    --n;
    // Emptied: its memory goes (an empty tail holds nothing).
    if (b.count == 0) blocks_->pop_front();
  }
  // Even an empty std::deque holds a map and a chunk: an idle queue has none.
  if (size_ == 0) blocks_.reset();
}

void PagedTail::clear() {
  blocks_.reset();
  per_segment_.clear();
  size_ = 0;
}

std::size_t PagedTail::count_in(std::uint64_t segment) const {
  auto it = per_segment_.find(segment);
  return it == per_segment_.end() ? 0 : it->second;
}

std::size_t PagedTail::memory_bytes() const {
  // Block storage plus the deque's own share and the per-segment map nodes.
  if (!blocks_) return 0;
  return blocks_->size() * (kBlockBytes + sizeof(Block)) + per_segment_.size() * 64;
}

}  // namespace ferry::broker
