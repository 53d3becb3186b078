#include "session/login.h"

#include <fmt/format.h>

#include "session/errors.h"

namespace ferry::session {

bool Login::may(auth::Access a, const broker::Destination& d) const {
  if (authenticator_ == nullptr) return true;
  if (permissions_ == nullptr) return false;
  d.to_string(destination_text_);
  Answer& answer = answers_[static_cast<std::size_t>(a)];
  if (!answer.known || answer.destination != destination_text_) {
    answer.allowed = permissions_->allows(a, destination_text_);
    answer.destination = destination_text_;
    answer.known = true;
  }
  return answer.allowed;
}

Status Login::check(auth::Access a, const broker::Destination& d) const {
  if (may(a, d)) return {};
  std::string_view message = a == auth::Access::kWrite  ? errors::kWriteRefused
                             : a == auth::Access::kRead ? errors::kReadRefused
                                                        : errors::kConfigureRefused;
  return Error{std::string(message), fmt::format("user '{}' has no {} permission on {} in vhost '{}'", user_,
                                                 auth::to_string(a), d.to_string(), vhost_)};
}

bool Login::may(auth::Access a, std::string_view resource) const {
  if (authenticator_ == nullptr) return true;
  return permissions_ != nullptr && permissions_->allows(a, resource);
}

Status Login::check(auth::Access a, std::string_view resource) const {
  if (may(a, resource)) return {};
  std::string_view message = a == auth::Access::kWrite  ? errors::kWriteRefused
                             : a == auth::Access::kRead ? errors::kReadRefused
                                                        : errors::kConfigureRefused;
  return Error{std::string(message), fmt::format("user '{}' has no {} permission on {} in vhost '{}'", user_,
                                                 auth::to_string(a), resource, vhost_)};
}

std::optional<Login::Refusal> Login::due_refusal(std::int64_t now_ms) {
  if (refuse_at_ms_ == 0 || now_ms < refuse_at_ms_) return std::nullopt;
  refuse_at_ms_ = 0;
  return std::move(refusal_);
}

Status Login::claim_client_id(broker::ClientIds& ids, ShardId shard, ConnectionId id, const std::string& peer,
                              std::int64_t now_ms) {
  if (client_id_.empty() || client_id_held_) return {};
  auto holder = ids.claim(vhost_, client_id_, {shard, id, user_, peer});
  if (!holder) {
    client_id_held_ = true;
    client_id_wait_until_ms_ = 0;
    return {};
  }
  if (client_id_wait_until_ms_ == 0) {
    // The holder may be this same client's previous connection, closing
    // (after its DISCONNECT's RECEIPT, or a dropped socket, then a reconnect
    // at once): a connection lets its client-id go only once it is closed.
    // Wait a moment, holding the frames that follow, before refusing.
    client_id_wait_until_ms_ = now_ms + kClientIdWaitMs;
    return Error{};
  }
  if (now_ms < client_id_wait_until_ms_) return Error{};
  client_id_wait_until_ms_ = 0;
  // ActiveMQ's words (InvalidClientIDException), which its users' alert
  // rules know; the holder's address only to the same user.
  const std::string from = holder->user == user_ ? holder->peer : std::string("another user's connection");
  return Error{fmt::format("Broker: ferry - Client: {} already connected from {}", client_id_, from),
               fmt::format("{}: client-id '{}' is in use by another connection in vhost '{}' (one connection "
                           "per client-id at a time)",
                           errors::kClientIdInUse, client_id_, vhost_)};
}

void Login::release_client_id(broker::ClientIds& ids, ShardId shard, ConnectionId id) {
  if (!client_id_held_) return;
  client_id_held_ = false;
  ids.release(vhost_, client_id_, shard, id);
}

}  // namespace ferry::session
