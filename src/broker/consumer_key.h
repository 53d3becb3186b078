#pragma once

#include <cstddef>
#include <functional>

#include "common/strong_id.h"

namespace ferry::broker {

// Names one subscription of one connection anywhere in the broker: the shard
// the connection lives on, the connection, and the subscription's number.
struct ConsumerKey {
  ShardId shard;
  ConnectionId connection;
  SubscriptionNo subscription;
  bool operator==(const ConsumerKey&) const = default;
};

}  // namespace ferry::broker

template <>
struct std::hash<ferry::broker::ConsumerKey> {
  std::size_t operator()(const ferry::broker::ConsumerKey& k) const noexcept {
    std::size_t h = std::hash<std::uint64_t>{}(k.connection.value);
    h ^= (std::size_t{k.shard.value} << 48) ^ (std::size_t{k.subscription.value} * 0x9E3779B97F4A7C15ull);
    return h;
  }
};
