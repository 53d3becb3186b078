#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/delivery.h"
#include "broker/destination.h"
#include "broker/message.h"
#include "common/result.h"
#include "common/string_hash.h"
#include "common/strong_id.h"

namespace ferry::session {

// An ACK/NACK inside a transaction: applied at COMMIT, undone at ABORT.
struct TxSettle {
  SubscriptionNo sub;
  broker::DeliverySeqs seqs;
  broker::SettleAction action;  // at COMMIT
};
struct TxSend {
  broker::Destination destination;
  broker::MessageRef message;
};
struct Transaction {
  std::vector<TxSend> sends;
  std::vector<TxSettle> settles;
  std::size_t frames = 0;
};

// A connection's open transactions, by name, within max-transactions
// (open at once) and max-transaction-size (frames in one); and the
// settles of committed transactions that wait for their sends to be
// durable.
class Transactions {
 public:
  Transactions(std::uint32_t max_open, std::uint32_t max_frames) : max_open_(max_open), max_frames_(max_frames) {}

  Status begin(std::string_view name);
  // The transaction a frame joins (null: none named), counting the frame.
  Result<Transaction*> join(std::optional<std::string_view> name);
  // COMMIT/ABORT: removes and returns the named transaction.
  Result<Transaction> take(std::optional<std::string_view> name);
  // The connection closes: every open one, to abort.
  std::vector<Transaction> take_all();

  // A COMMIT's settles wait for the atomic record of its sends (`batch_op`)
  // to be durable; then they are applied as part of `commit_op`.
  void settle_after(std::uint64_t batch_op, std::uint64_t commit_op, std::vector<TxSettle> settles);
  std::optional<std::pair<std::uint64_t, std::vector<TxSettle>>> settles_after(std::uint64_t batch_op);
  // The COMMIT whose sends `batch_op` writes (its ERROR answers that COMMIT).
  std::optional<std::uint64_t> commit_of(std::uint64_t batch_op) const {
    auto it = after_.find(batch_op);
    if (it == after_.end()) return std::nullopt;
    return it->second.first;
  }

 private:
  const std::uint32_t max_open_;
  const std::uint32_t max_frames_;
  std::unordered_map<std::string, Transaction, StringHash, std::equal_to<>> open_;  // by name
  std::unordered_map<std::uint64_t, std::pair<std::uint64_t, std::vector<TxSettle>>> after_;
};

}  // namespace ferry::session
