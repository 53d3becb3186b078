#include "session/transactions.h"

#include "session/errors.h"

namespace ferry::session {

namespace {
Error error(std::string_view message, std::string_view detail = {}) {
  return Error{std::string(message), std::string(detail)};
}
}  // namespace

Status Transactions::begin(std::string_view name) {
  if (open_.contains(name)) return error(errors::kDuplicateTransaction, name);
  if (open_.size() >= max_open_) return error(errors::kTooManyTransactions);
  open_.emplace(std::string(name), Transaction{});
  return {};
}

Result<Transaction*> Transactions::join(std::optional<std::string_view> name) {
  if (!name) return static_cast<Transaction*>(nullptr);
  auto it = open_.find(*name);
  if (it == open_.end()) return error(errors::kUnknownTransaction, *name);
  if (++it->second.frames > max_frames_) return error(errors::kTransactionTooLarge, *name);
  return &it->second;
}

Result<Transaction> Transactions::take(std::optional<std::string_view> name) {
  if (!name) return error(errors::kMissingTransaction);
  auto it = open_.find(*name);
  if (it == open_.end()) return error(errors::kUnknownTransaction, *name);
  Transaction tx = std::move(it->second);
  open_.erase(it);
  return tx;
}

std::vector<Transaction> Transactions::take_all() {
  std::vector<Transaction> all;
  for (auto& [name, tx] : open_) all.push_back(std::move(tx));
  open_.clear();
  return all;
}

void Transactions::settle_after(std::uint64_t batch_op, std::uint64_t commit_op, std::vector<TxSettle> settles) {
  after_.emplace(batch_op, std::make_pair(commit_op, std::move(settles)));
}

std::optional<std::pair<std::uint64_t, std::vector<TxSettle>>> Transactions::settles_after(std::uint64_t batch_op) {
  auto it = after_.find(batch_op);
  if (it == after_.end()) return std::nullopt;
  auto found = std::move(it->second);
  after_.erase(it);
  return found;
}

}  // namespace ferry::session
