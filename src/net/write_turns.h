#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

namespace ferry::net {

// Fairness (issue 18 item 10): a shard's budget of socket writes for
// deliveries per loop turn. A topic fanning a message out to 1,000
// subscribers of one shard used to post 1,000 flushes in that turn, and a
// request from any other connection of the shard was read only after all
// of them had written (each `sendmsg` on loopback also runs the receiver's
// side of TCP): tens of milliseconds per message, seconds under overload.
// Writes of delivered messages now queue here, one entry per connection, and
// at most kWritesPerTurn of them run per turn of the loop, in the order they
// were queued; the rest go on in the next turn, after the loop has polled
// its sockets, so other connections' requests are read (and answered)
// between them. A connection's frames stay in its own output queue in
// order: only the moment of its write moves, and what it queues meanwhile
// joins the same write (fewer, larger writes).
//
// Replies to a connection's own frames (RECEIPT, ERROR, CONNECTED) do not
// wait here (Connection::flush writes them in the turn), nor do writes that
// the connection's own output backlog already waits on.
//
// One per shard and listener set (net::Server); every method runs on that
// shard. Kept alive by the turn it has posted (shared_from_this).
class WriteTurns : public std::enable_shared_from_this<WriteTurns> {
 public:
  static constexpr std::size_t kWritesPerTurn = 64;

  // What waits for a turn (a connection): write_turn() is called once per add().
  class Writer {
   public:
    virtual ~Writer() = default;
    virtual void write_turn() = 0;
  };
  // Calls turns->posted_turn() in a later turn of the shard's loop
  // (boost::asio::post), its handler holding `turns`.
  using Post = std::function<void(std::shared_ptr<WriteTurns> turns)>;

  explicit WriteTurns(Post post, std::size_t per_turn = kWritesPerTurn)
      : post_(std::move(post)), per_turn_(per_turn) {}

  // Queues `w`'s write behind the ones waiting; the caller adds each writer
  // at most once until its write_turn() runs (Connection's write_queued_).
  void add(std::shared_ptr<Writer> w);

  std::size_t waiting() const { return waiting_.size(); }
  // Turns run so far (tests, and the budget's effect in a profile).
  std::uint64_t turns() const { return turns_; }

  // Broker shutdown: forgets the writers waiting (each holds its writer,
  // which may hold this object: a turn that will never run would keep both).
  void clear() { waiting_.clear(); }

  // One turn: up to per_turn writes, the rest next turn. Public for tests
  // that drive turns by hand; otherwise only the posted turn calls it.
  void run_turn();
  // The turn schedule() posted (only the Post's handler calls it).
  void posted_turn();

 private:
  void schedule();

  Post post_;
  std::size_t per_turn_;
  std::deque<std::shared_ptr<Writer>> waiting_;
  bool posted_ = false;
  std::uint64_t turns_ = 0;
};

}  // namespace ferry::net
