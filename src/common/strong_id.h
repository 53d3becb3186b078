#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace ferry {

// A number with a meaning: ids of different kinds cannot be swapped by mistake.
template <typename Tag, typename Rep = std::uint64_t>
struct StrongId {
  Rep value{};

  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep v) : value(v) {}
  friend constexpr auto operator<=>(const StrongId&, const StrongId&) = default;
};

using ShardId = StrongId<struct ShardIdTag, std::uint32_t>;
using ConnectionId = StrongId<struct ConnectionIdTag>;
using MessageId = StrongId<struct MessageIdTag>;
// A subscription's number inside its connection (the client's `id` is a string).
using SubscriptionNo = StrongId<struct SubscriptionNoTag, std::uint32_t>;
// Position of a delivery among all deliveries to one consumer (1, 2, ...).
using DeliverySeq = StrongId<struct DeliverySeqTag>;

}  // namespace ferry

template <typename Tag, typename Rep>
struct std::hash<ferry::StrongId<Tag, Rep>> {
  std::size_t operator()(const ferry::StrongId<Tag, Rep>& id) const noexcept {
    return std::hash<Rep>{}(id.value);
  }
};
