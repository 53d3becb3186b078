#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/strong_id.h"

namespace ferry::broker {

// A published message. Immutable once built and shared by reference count
// (MessageRef) among every queue and subscription that holds it (possibly
// on several shards), so it is read-only after construction.
struct Message {
  MessageId id;
  std::string id_text;      // the `message-id` header value
  std::string destination;  // as delivered: "/queue/x", "/topic/y"
  // Headers from the SEND that travel with the message, unescaped, in order,
  // first occurrence only. Excludes destination, receipt, transaction,
  // content-length and message-id.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::uint8_t priority = 4;   // 0..9, higher first
  std::int64_t expires_ms = 0; // wall-clock ms since epoch; 0 = never
  // Scheduled delivery (broker/schedule.h): hidden from consumers until
  // then (wall-clock ms since epoch; 0 = at once). Kept in the journal as
  // the `deliver-at` header.
  std::int64_t deliver_at_ms = 0;
  bool persistent = false;
  // The connection that published it (0: the broker itself, or recovered
  // from the journal): for noLocal topic subscriptions.
  ConnectionId origin{0};
  // For fan-out: destination, message-id and `headers` already encoded as
  // STOMP 1.2 header lines, so that each subscriber's MESSAGE frame copies
  // them instead of escaping them again. Empty when not prepared (the
  // frame is then encoded from the fields above).
  std::string encoded_headers_1_2;

  // Bytes this message costs in memory, for the memory limit.
  std::size_t footprint() const;
  bool expired_at(std::int64_t now_ms) const { return expires_ms != 0 && now_ms >= expires_ms; }
  bool due_at(std::int64_t now_ms) const { return deliver_at_ms == 0 || now_ms >= deliver_at_ms; }
  const std::string* header(std::string_view name) const;
};

class MessagePool;

// A counted reference to a shared, immutable Message. Messages come from a
// per-thread pool (message_pool.h) and go back to it, strings' capacity
// included, when the last reference goes: in steady state a message costs
// no heap allocation. Copies may live and die on any thread.
class MessageRef {
 public:
  MessageRef() noexcept = default;
  MessageRef(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor)
  MessageRef(const MessageRef& o) noexcept : block_(o.block_) {
    if (block_ != nullptr) block_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  MessageRef(MessageRef&& o) noexcept : block_(std::exchange(o.block_, nullptr)) {}
  MessageRef& operator=(const MessageRef& o) noexcept {
    MessageRef(o).swap(*this);
    return *this;
  }
  MessageRef& operator=(MessageRef&& o) noexcept {
    MessageRef(std::move(o)).swap(*this);
    return *this;
  }
  ~MessageRef() { reset(); }

  void reset() noexcept {
    if (block_ != nullptr && block_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) recycle(block_);
    block_ = nullptr;
  }
  void swap(MessageRef& o) noexcept { std::swap(block_, o.block_); }

  const Message* get() const noexcept { return block_ != nullptr ? &block_->message : nullptr; }
  const Message& operator*() const noexcept { return block_->message; }
  const Message* operator->() const noexcept { return &block_->message; }
  explicit operator bool() const noexcept { return block_ != nullptr; }
  friend bool operator==(const MessageRef& a, const MessageRef& b) noexcept { return a.block_ == b.block_; }
  friend bool operator==(const MessageRef& a, std::nullptr_t) noexcept { return a.block_ == nullptr; }

  // The message, to fill in before it is shared: only while this is the
  // one reference to it.
  Message& writable() const;

  // The pool's unit: a message with its reference count.
  struct Block {
    Message message;
    std::atomic<std::uint32_t> refs{1};
    MessagePool* home = nullptr;  // the pool it returns to
    Block* next = nullptr;        // free-list link while pooled
    // The header strings of the message that used this block last, emptied
    // with their buffers kept (see make_message_with_header_slots).
    std::vector<std::pair<std::string, std::string>> spare_headers;
  };

 private:
  friend class MessagePool;
  friend MessageRef make_message();
  friend MessageRef make_message_with_header_slots(std::size_t n);
  explicit MessageRef(Block* b) noexcept : block_(b) {}
  static void recycle(Block* b) noexcept;

  Block* block_ = nullptr;
};

// A new, empty message from this thread's pool; fill it in through
// writable() before sharing it.
MessageRef make_message();
// The same, with `n` header entries of empty strings that reuse the
// buffers of an earlier message's headers: fill them in place, then resize
// `headers` to the entries used (a SEND whose header values are longer than
// std::string's inline buffer then allocates nothing for them).
MessageRef make_message_with_header_slots(std::size_t n);
// A new message holding a copy of `m`'s contents (or `m` itself, moved).
MessageRef make_message(const Message& m);
MessageRef make_message(Message&& m);

}  // namespace ferry::broker
