#pragma once

#include <boost/container/small_vector.hpp>

#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>
#include <string>
#include <vector>

#include "broker/message.h"
#include "common/strong_id.h"

namespace ferry::broker {

enum class AckMode { kAuto, kClient, kClientIndividual };

// The deliveries one ACK or NACK settles: usually one (client-individual),
// kept inline so that passing them to the queue's shard allocates nothing.
class DeliverySeqs : public boost::container::small_vector<DeliverySeq, 2> {
  using Base = boost::container::small_vector<DeliverySeq, 2>;

 public:
  using Base::Base;
  DeliverySeqs() = default;
  DeliverySeqs(const DeliverySeqs&) = default;
  DeliverySeqs& operator=(const DeliverySeqs&) = default;
  // Moving steals a heap buffer or copies inline trivially copyable ids:
  // it cannot throw, which lets a task carrying these stay inline (Task).
  DeliverySeqs(DeliverySeqs&& o) noexcept : Base(std::move(static_cast<Base&>(o))) {}
  DeliverySeqs& operator=(DeliverySeqs&& o) noexcept {
    Base::operator=(std::move(static_cast<Base&>(o)));
    return *this;
  }
  std::span<const DeliverySeq> span() const { return {data(), size()}; }
};
static_assert(std::is_trivially_copyable_v<DeliverySeq>);

// One message handed to one consumer.
struct Delivery {
  MessageRef message;
  DeliverySeq seq;                // per consumer, increasing; identifies it in acks
  std::uint32_t earlier_deliveries = 0;  // > 0 means redelivered
};

// What a consumer's connection decided about deliveries it holds.
enum class SettleAction {
  kAck,         // consumed: remove
  kRequeue,     // NACK / abort: back to the queue, marked redelivered
  kDeadLetter,  // NACK with requeue:false: straight to the dead-letter queue
  kRelease,     // acked inside an open transaction: stops counting toward the
                // window, but stays held until kAck (COMMIT) or kRequeue (ABORT)
};

// The window a subscription asked for (from any dialect's header).
struct Window {
  std::uint32_t messages = 0;  // > 0 after normalisation
  std::uint64_t bytes = 0;     // 0 = no byte cap
};

// Outcome of an operation sent to a destination's shard, reported back to
// the connection that asked.
struct Outcome {
  bool ok = true;
  std::string error;  // ERROR `message` text when !ok
  // Refused because the destination does not exist and the connection may
  // not create it (its user lacks configure permission); `error` names the
  // destination, the connection words the ERROR.
  bool needs_configure = false;
  static Outcome success() { return {}; }
  static Outcome failure(std::string text) { return {false, std::move(text)}; }
  static Outcome not_created(std::string destination) { return {false, std::move(destination), true}; }
};

}  // namespace ferry::broker
