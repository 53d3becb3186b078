#include "broker/message_pool.h"

#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "common/assert.h"

namespace ferry::broker {

namespace {

// Every pool ever made; pools are never freed (messages may return to a
// pool after its thread is gone), and a pool whose thread ended is handed
// to the next thread that asks.
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::vector<MessagePool*>& registry() {
  static auto* pools = new std::vector<MessagePool*>();
  return *pools;
}

thread_local MessagePool* t_pool = nullptr;

// Header strings longer than this give their buffer back when recycled.
constexpr std::size_t kMaxKeptHeader = 1024;

std::size_t string_bytes(const std::string& s) { return sizeof(std::string) + s.capacity(); }

// What an idle message keeps allocated.
std::size_t idle_bytes(const MessageRef::Block& b) {
  const Message& m = b.message;
  std::size_t n = sizeof(MessageRef::Block) + m.id_text.capacity() + m.destination.capacity() +
                  m.body.capacity() + m.encoded_headers_1_2.capacity() +
                  m.headers.capacity() * sizeof(m.headers[0]);
  for (const auto& [k, v] : b.spare_headers) n += string_bytes(k) + string_bytes(v);
  return n;
}

void clear_string(std::string& s, std::size_t keep_up_to) {
  if (s.capacity() > keep_up_to) {
    std::string().swap(s);
  } else {
    s.clear();
  }
}

void clear_keeping_capacity(MessageRef::Block& b) {
  Message& m = b.message;
  m.id = MessageId();
  m.id_text.clear();
  m.destination.clear();
  if (!m.headers.empty()) {
    for (auto& [k, v] : m.headers) {
      clear_string(k, kMaxKeptHeader);
      clear_string(v, kMaxKeptHeader);
    }
    // The larger set of emptied strings is kept for the next message.
    if (m.headers.size() >= b.spare_headers.size()) b.spare_headers.swap(m.headers);
    m.headers.clear();
  }
  clear_string(m.body, MessagePool::kMaxKeptBody);
  clear_string(m.encoded_headers_1_2, MessagePool::kMaxKeptBody);
  m.priority = 4;
  m.expires_ms = 0;
  m.deliver_at_ms = 0;
  m.persistent = false;
  m.origin = ConnectionId(0);
}

}  // namespace

// Gives the thread's pool back to the registry when the thread ends.
struct PoolOwner {
  MessagePool* pool = nullptr;
  ~PoolOwner() {
    if (pool == nullptr) return;
    std::lock_guard lk(registry_mutex());
    pool->owned_ = false;
    t_pool = nullptr;
  }
};

MessagePool& MessagePool::here() {
  if (t_pool != nullptr) return *t_pool;
  thread_local PoolOwner owner;
  std::lock_guard lk(registry_mutex());
  for (MessagePool* p : registry()) {
    if (!p->owned_) {
      t_pool = p;
      break;
    }
  }
  if (t_pool == nullptr) {
    t_pool = new MessagePool();
    registry().push_back(t_pool);
  }
  t_pool->owned_ = true;
  owner.pool = t_pool;
  return *t_pool;
}

MessageRef::Block* MessagePool::fresh(MessagePool& home) {
  auto* b = new MessageRef::Block();
  b->home = &home;
  return b;
}

MessageRef::Block* MessagePool::take() {
  MessagePool& p = here();
  if (p.local_ == nullptr) p.local_ = p.remote_.exchange(nullptr, std::memory_order_acquire);
  MessageRef::Block* b = p.local_;
  if (b == nullptr) return fresh(p);
  p.local_ = b->next;
  b->next = nullptr;
  p.cached_bytes_.fetch_sub(idle_bytes(*b), std::memory_order_relaxed);
  p.cached_count_.fetch_sub(1, std::memory_order_relaxed);
  b->refs.store(1, std::memory_order_relaxed);
  return b;
}

void MessagePool::give_back(MessageRef::Block* b) noexcept {
  clear_keeping_capacity(*b);
  MessagePool& home = *b->home;
  const std::size_t bytes = idle_bytes(*b);
  if (home.cached_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes > kMaxCachedBytes) {
    home.cached_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    delete b;
    return;
  }
  home.cached_count_.fetch_add(1, std::memory_order_relaxed);
  if (&home == t_pool) {
    b->next = home.local_;
    home.local_ = b;
    return;
  }
  MessageRef::Block* head = home.remote_.load(std::memory_order_relaxed);
  do {
    b->next = head;
  } while (!home.remote_.compare_exchange_weak(head, b, std::memory_order_release, std::memory_order_relaxed));
}

std::size_t MessagePool::cached_here() { return here().cached_count_.load(std::memory_order_relaxed); }

// ------------------------------------------------------------ MessageRef

void MessageRef::recycle(Block* b) noexcept { MessagePool::give_back(b); }

Message& MessageRef::writable() const {
  FERRY_ASSERT(block_ != nullptr && block_->refs.load(std::memory_order_relaxed) == 1);
  return block_->message;
}

MessageRef make_message() { return MessageRef(MessagePool::take()); }

MessageRef make_message_with_header_slots(std::size_t n) {
  MessageRef::Block* b = MessagePool::take();
  Message& m = b->message;
  m.headers.swap(b->spare_headers);  // emptied strings, buffers kept
  m.headers.resize(n);
  return MessageRef(b);
}

MessageRef make_message(const Message& m) {
  MessageRef ref = make_message();
  ref.writable() = m;
  return ref;
}

MessageRef make_message(Message&& m) {
  MessageRef ref = make_message();
  ref.writable() = std::move(m);
  return ref;
}

}  // namespace ferry::broker
