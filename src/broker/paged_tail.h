#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <vector>

namespace ferry::broker {

// Where a paged-out message's journal record is: the segment, the offset of
// the record header there, and for a record inside a kBatch the entry's
// index (0 for a plain record). `deliveries` is what the queue knew beyond
// the record itself (kDeliveries records replayed at start-up).
struct PagedPosition {
  std::uint64_t segment = 0;
  std::uint64_t offset = 0;
  std::uint32_t index = 0;
  std::uint32_t deliveries = 0;
  friend bool operator==(const PagedPosition&, const PagedPosition&) = default;
};

// The paged-out end of a queue: the journal positions of messages whose
// bodies (and every other field) live only in the journal, in enqueue
// order. It costs a few bytes per message: positions are delta- and
// varint-encoded into blocks of kBlockBytes (segment changes rarely, the
// offset grows by about one record), typically 4 bytes for a message of
// ~1 KB. Only the front is read (FIFO); nothing in the middle can be found
// or changed.
//
// Entry encoding (docs/journal.md "Paged messages in memory"):
//   varint zigzag(segment - previous segment)
//   varint zigzag(offset - previous offset)  (previous offset = 0 when the segment changed)
//   varint (index << 1) | (deliveries != 0)
//   [varint deliveries]                      when the flag bit is set
// "previous" is the entry before in the same block, or {0, 0} for the
// first entry of a block, so each block decodes on its own.
//
// Owned by its Queue; single-shard.
class PagedTail {
 public:
  static constexpr std::size_t kBlockBytes = 4096;

  void push(const PagedPosition& p);
  // Decodes up to `n` positions from the front into `out` (appended),
  // without removing them. Returns how many.
  std::size_t peek(std::size_t n, std::vector<PagedPosition>& out) const;
  // Removes `n` positions from the front (requires n <= size()).
  void pop(std::size_t n);
  void clear();

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  // Positions currently in `segment` (for compaction and liveness).
  std::size_t count_in(std::uint64_t segment) const;
  // Bytes this object holds (blocks and bookkeeping), for the memory limit.
  std::size_t memory_bytes() const;

 private:
  struct Cursor {
    std::size_t pos = 0;  // byte offset of the next entry in the block
    std::uint64_t segment = 0;
    std::uint64_t offset = 0;
  };
  struct Block {
    std::vector<std::uint8_t> bytes;  // capacity kBlockBytes
    std::uint32_t count = 0;          // entries not yet popped
    Cursor read;                      // the next entry to pop
    Cursor write;                     // state after the last entry pushed
  };
  static PagedPosition decode(const Block& b, Cursor& c);

  using Blocks = std::deque<Block>;
  std::unique_ptr<Blocks> blocks_;  // null while empty (see pop())
  std::size_t size_ = 0;
  std::map<std::uint64_t, std::size_t> per_segment_;  // segment -> positions in it
};

}  // namespace ferry::broker
