#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "auth/authenticator.h"
#include "auth/permissions.h"
#include "broker/client_ids.h"
#include "broker/destination.h"
#include "common/result.h"
#include "common/strong_id.h"

namespace ferry::session {

// Who a connection is, once its login is decided: the user, the vhost, the
// permissions (fixed at login: a pattern is matched once per destination,
// not once per frame), and the client-id it holds (one connection per
// client-id per vhost, ActiveMQ's rule). Also a refused login's ERROR
// while it waits for login-failure-delay, and a CONNECT waiting for its
// client-id to be let go. Owned by its session; runs on its shard.
class Login {
 public:
  // `authenticator` null: no authentication (everyone in vhost "/").
  explicit Login(const auth::Authenticator* authenticator) : authenticator_(authenticator) {}

  const std::string& user() const { return user_; }
  const std::string& vhost() const { return vhost_; }
  const std::string& client_id() const { return client_id_; }
  void set_vhost(std::string vhost) { vhost_ = std::move(vhost); }
  void set_client_id(std::string id) { client_id_ = std::move(id); }
  void logged_in(std::string user, std::shared_ptr<const auth::Permissions> permissions) {
    user_ = std::move(user);
    permissions_ = std::move(permissions);
  }

  bool may(auth::Access a, const broker::Destination& d) const;
  // may(), or the ERROR that refuses it.
  Status check(auth::Access a, const broker::Destination& d) const;
  // The same for a resource named by its canonical text, such as an
  // exchange's "/exchange/NAME" (docs/security.md).
  bool may(auth::Access a, std::string_view resource) const;
  Status check(auth::Access a, std::string_view resource) const;

  // A refused login answers after login-failure-delay (not blocking: the
  // connection waits unread and the session's tick sends the ERROR).
  struct Refusal {
    Error error;
    std::optional<std::string> receipt;
  };
  void refuse_at(std::int64_t at_ms, Refusal refusal) {
    refuse_at_ms_ = at_ms;
    refusal_ = std::move(refusal);
  }
  bool refusing() const { return refuse_at_ms_ != 0; }
  // The refusal whose time has come.
  std::optional<Refusal> due_refusal(std::int64_t now_ms);

  // The CONNECT's client-id. Ok: held (or none given). An Error with an
  // empty message: wait (the holder may be this client's previous
  // connection, closing) until `wait_until_ms`, then try again. Otherwise
  // the ERROR that refuses the CONNECT.
  Status claim_client_id(broker::ClientIds& ids, ShardId shard, ConnectionId id, const std::string& peer,
                         std::int64_t now_ms);
  bool waiting_for_client_id() const { return client_id_wait_until_ms_ != 0; }
  void release_client_id(broker::ClientIds& ids, ShardId shard, ConnectionId id);
  static constexpr std::int64_t kClientIdWaitMs = 1000;

 private:
  const auth::Authenticator* authenticator_;
  std::string user_;
  std::string vhost_ = "/";
  std::string client_id_;
  bool client_id_held_ = false;
  std::int64_t client_id_wait_until_ms_ = 0;
  std::shared_ptr<const auth::Permissions> permissions_;
  // The last answer of permissions_ per access.
  struct Answer {
    bool known = false;
    bool allowed = false;
    std::string destination;  // canonical, "/queue/NAME"
  };
  mutable std::array<Answer, 3> answers_;  // by auth::Access
  mutable std::string destination_text_;   // reused by may()
  std::int64_t refuse_at_ms_ = 0;
  Refusal refusal_;
};

}  // namespace ferry::session
